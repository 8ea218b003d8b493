mod common;
use common::*;
use std::time::Instant;
use vwc_maintenance_scheduler::scheduler::{AsOf, decide};
use vwc_maintenance_scheduler::{SchedulerStore, VehicleCommit, seed_bulk};

#[tokio::test(flavor = "multi_thread")]
#[ignore]
async fn phases() {
    let t = TempStore::new();
    let n = 20_000;
    seed_bulk(t.store.as_ref(), n).await.unwrap();
    let today = chrono::Utc::now().date_naive();
    let when = AsOf {
        today,
        now: chrono::Utc::now(),
    };
    let (mut read, mut eval, mut write) = (
        std::time::Duration::ZERO,
        std::time::Duration::ZERO,
        std::time::Duration::ZERO,
    );
    let mut after: Option<String> = None;
    let mut envs = 0;
    loop {
        let s = Instant::now();
        let page = t
            .store
            .vehicle_states(None, after.as_deref(), 2000)
            .await
            .unwrap();
        read += s.elapsed();
        if page.is_empty() {
            break;
        }
        after = page.last().map(|p| p.vehicle_id.clone());
        let s = Instant::now();
        let mut commits = Vec::new();
        for st in &page {
            let mut c = VehicleCommit::on(st);
            decide(st, &mut c, when.today, when.now, Some(TRACE));
            envs += c.outbox.len();
            commits.push(c);
        }
        eval += s.elapsed();
        let s = Instant::now();
        t.store.commit_batch(commits).await.unwrap();
        write += s.elapsed();
    }
    eprintln!("n={n} read {read:?} eval {eval:?} write {write:?} envelopes {envs}");
    // second pass: same day, nothing to write
    let (mut read, mut eval) = (std::time::Duration::ZERO, std::time::Duration::ZERO);
    let mut after: Option<String> = None;
    loop {
        let s = Instant::now();
        let page = t
            .store
            .vehicle_states(None, after.as_deref(), 2000)
            .await
            .unwrap();
        read += s.elapsed();
        if page.is_empty() {
            break;
        }
        after = page.last().map(|p| p.vehicle_id.clone());
        let s = Instant::now();
        for st in &page {
            let mut c = VehicleCommit::on(st);
            decide(st, &mut c, when.today, when.now, Some(TRACE));
        }
        eval += s.elapsed();
    }
    eprintln!("second: read {read:?} eval {eval:?}");
    let when = AsOf {
        today: today.succ_opt().unwrap(),
        now: chrono::Utc::now(),
    };
    let (mut read, mut eval, mut write) = (
        std::time::Duration::ZERO,
        std::time::Duration::ZERO,
        std::time::Duration::ZERO,
    );
    let mut after: Option<String> = None;
    let mut envs = 0;
    loop {
        let s = Instant::now();
        let page = t
            .store
            .vehicle_states(None, after.as_deref(), 2000)
            .await
            .unwrap();
        read += s.elapsed();
        if page.is_empty() {
            break;
        }
        after = page.last().map(|p| p.vehicle_id.clone());
        let s = Instant::now();
        let mut commits = Vec::new();
        for st in &page {
            let mut c = VehicleCommit::on(st);
            decide(st, &mut c, when.today, when.now, Some(TRACE));
            envs += c.outbox.len();
            commits.push(c);
        }
        eval += s.elapsed();
        let s = Instant::now();
        t.store.commit_batch(commits).await.unwrap();
        write += s.elapsed();
    }
    eprintln!("next day: read {read:?} eval {eval:?} write {write:?} envelopes {envs}");
}

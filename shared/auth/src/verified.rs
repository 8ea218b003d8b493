//! Tokens a verifier has already verified, so that a client sending the same token with every request
//! does not pay for its signature check and claim parsing each time (docs/bench.md, "The timeline page
//! written from the stored JSON").
//!
//! An entry is keyed by the token's exact text — header, claims and signature — and is made only after
//! the full check passed, with the verifier's own pinned algorithm and key: a token that differs in any
//! byte is verified from scratch. What can change with time is checked again on every use, the way
//! `jsonwebtoken` checks it: `exp` (with the same leeway, against the same clock) and `nbf`. A token that
//! has expired is dropped and goes through the full check again, which refuses it.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::{Caller, LEEWAY_SECONDS};

/// At most this many tokens are remembered; when full, expired entries go first, then all of them.
/// Only tokens that verified can be entered, so filling it needs valid tokens.
const CAPACITY: usize = 1024;

#[derive(Debug)]
struct Verified {
    caller: Caller,
    exp: u64,
    nbf: Option<u64>,
}

impl Verified {
    /// Whether the token is still acceptable at `now` (unix seconds): `jsonwebtoken`'s rule, `exp` not
    /// before `now - leeway`, `nbf` not after `now + leeway`.
    fn current(&self, now: u64) -> bool {
        self.exp >= now.saturating_sub(LEEWAY_SECONDS)
            && self
                .nbf
                .is_none_or(|nbf| nbf <= now.saturating_add(LEEWAY_SECONDS))
    }
}

#[derive(Debug, Default)]
pub(crate) struct VerifiedTokens {
    tokens: Mutex<HashMap<Box<str>, Verified>>,
}

impl VerifiedTokens {
    /// The caller `token` was verified for, if it was and is still current at `now` (unix seconds).
    pub(crate) fn get(&self, token: &str, now: u64) -> Option<Caller> {
        let mut tokens = self.tokens.lock().unwrap_or_else(|p| p.into_inner());
        let verified = tokens.get(token)?;
        if verified.current(now) {
            return Some(verified.caller.clone());
        }
        tokens.remove(token);
        None
    }

    /// Remembers that `token` verified to `caller`, with its `exp` and `nbf` claims.
    pub(crate) fn insert(
        &self,
        token: &str,
        caller: &Caller,
        exp: i64,
        nbf: Option<i64>,
        now: u64,
    ) {
        let (Ok(exp), Ok(nbf)) = (u64::try_from(exp), nbf.map(u64::try_from).transpose()) else {
            return;
        };
        let entry = Verified {
            caller: caller.clone(),
            exp,
            nbf,
        };
        let mut tokens = self.tokens.lock().unwrap_or_else(|p| p.into_inner());
        if tokens.len() >= CAPACITY && !tokens.contains_key(token) {
            tokens.retain(|_, v| v.current(now));
            if tokens.len() >= CAPACITY {
                tokens.clear();
            }
        }
        tokens.insert(token.into(), entry);
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.tokens.lock().unwrap().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Role;

    fn caller(sub: &str) -> Caller {
        Caller {
            sub: sub.into(),
            org: "org_1".into(),
            roles: vec![Role::Viewer],
        }
    }

    const NOW: u64 = 1_800_000_000;

    #[test]
    fn a_remembered_token_is_current_until_its_expiry_plus_the_leeway() {
        let cache = VerifiedTokens::default();
        cache.insert("a.b.c", &caller("usr_1"), NOW as i64 + 60, None, NOW);
        assert_eq!(cache.get("a.b.c", NOW), Some(caller("usr_1")));
        assert_eq!(
            cache.get("a.b.c", NOW + 60 + LEEWAY_SECONDS),
            Some(caller("usr_1"))
        );
        assert_eq!(cache.get("a.b.c", NOW + 61 + LEEWAY_SECONDS), None);
        // Dropped once found expired, even if asked again at an earlier time.
        assert_eq!(cache.get("a.b.c", NOW), None);
        assert_eq!(cache.len(), 0);
    }

    #[test]
    fn only_the_exact_token_text_is_remembered() {
        let cache = VerifiedTokens::default();
        cache.insert("a.b.c", &caller("usr_1"), NOW as i64 + 60, None, NOW);
        for other in ["a.b.d", "a.b.c ", "A.b.c", "a.b", ""] {
            assert_eq!(cache.get(other, NOW), None, "{other:?}");
        }
    }

    #[test]
    fn a_not_yet_valid_token_is_not_current_before_its_nbf_minus_the_leeway() {
        let cache = VerifiedTokens::default();
        cache.insert(
            "a.b.c",
            &caller("usr_1"),
            NOW as i64 + 600,
            Some(NOW as i64 + 100),
            NOW + 100,
        );
        assert_eq!(
            cache.get("a.b.c", NOW + 100 - LEEWAY_SECONDS),
            Some(caller("usr_1"))
        );
        assert_eq!(cache.get("a.b.c", NOW + 99 - LEEWAY_SECONDS), None);
    }

    #[test]
    fn a_full_cache_drops_expired_tokens_first_then_starts_over() {
        let cache = VerifiedTokens::default();
        for n in 0..CAPACITY {
            // Every other token expires at NOW.
            let exp = if n % 2 == 0 { NOW } else { NOW + 3_600 };
            cache.insert(&format!("t{n}"), &caller("usr_1"), exp as i64, None, NOW);
        }
        assert_eq!(cache.len(), CAPACITY);
        let later = NOW + LEEWAY_SECONDS + 1;
        cache.insert("new", &caller("usr_2"), (NOW + 3_600) as i64, None, later);
        assert_eq!(cache.len(), CAPACITY / 2 + 1);
        assert_eq!(cache.get("t1", later), Some(caller("usr_1")));
        assert_eq!(cache.get("new", later), Some(caller("usr_2")));
        for n in 0..CAPACITY / 2 - 1 {
            cache.insert(
                &format!("u{n}"),
                &caller("usr_3"),
                (NOW + 3_600) as i64,
                None,
                later,
            );
        }
        assert_eq!(cache.len(), CAPACITY);
        // Full of current tokens: the next one starts a fresh cache.
        cache.insert("last", &caller("usr_4"), (NOW + 3_600) as i64, None, later);
        assert_eq!(cache.len(), 1);
        assert_eq!(cache.get("last", later), Some(caller("usr_4")));
    }

    #[test]
    fn negative_claims_are_never_remembered() {
        let cache = VerifiedTokens::default();
        cache.insert("a.b.c", &caller("usr_1"), -1, None, NOW);
        cache.insert("d.e.f", &caller("usr_1"), NOW as i64, Some(-5), NOW);
        assert_eq!(cache.len(), 0);
    }
}

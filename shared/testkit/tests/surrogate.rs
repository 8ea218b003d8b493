//! The smallest reproduction of the one known difference of the local surrogate (SecantusDB) from MongoDB,
//! run against the server in `VWC_TEST_MONGODB_URI`:
//! - on real MongoDB it checks the documented behaviour (`$lte`/`$gte` include the bound value, through any
//!   index), so the reference stays checked;
//! - on the surrogate it checks that the difference is still there, so a SecantusDB release that fixes it
//!   fails here and [`SURROGATE_DIFFERENCES`] is emptied instead of hiding checks that would now pass.

use mongodb::bson::{Document, doc};
use vwc_testkit::mongo::{SURROGATE_DIFFERENCES, is_surrogate, mongodb_uri};

async fn ids(c: &mongodb::Collection<Document>, filter: Document) -> Vec<String> {
    let mut cursor = c
        .find(filter)
        .sort(doc! { "at": 1, "_id": 1 })
        .await
        .unwrap();
    let mut out = Vec::new();
    while cursor.advance().await.unwrap() {
        out.push(cursor.current().get_str("_id").unwrap().to_string());
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_inclusive_range_on_a_compound_index_field_includes_the_bound_value() {
    let Some(uri) = mongodb_uri() else {
        return;
    };
    let client = mongodb::Client::with_uri_str(&uri).await.unwrap();
    let name = format!("vwc_test_surrogate_{}", uuid::Uuid::now_v7().simple());
    let c = client.database(&name).collection::<Document>("d");
    c.insert_many((1..=5).map(
        |i| doc! { "_id": format!("d{i}"), "status": "pending", "at": format!("2024-06-0{i}") },
    ))
    .await
    .unwrap();
    let lte = doc! { "status": "pending", "at": { "$lte": "2024-06-03" } };
    let gte = doc! { "status": "pending", "at": { "$gte": "2024-06-03" } };
    // Without an index both servers agree with the documentation.
    assert_eq!(ids(&c, lte.clone()).await, ["d1", "d2", "d3"]);
    assert_eq!(ids(&c, gte.clone()).await, ["d3", "d4", "d5"]);

    // The shape of the notification store's index: a field after the ranged one.
    c.create_index(
        mongodb::IndexModel::builder()
            .keys(doc! { "status": 1, "at": 1, "_id": 1 })
            .build(),
    )
    .await
    .unwrap();
    // The shape of the edge timeline's index: the ranged field descending, another after it.
    let c_desc = client.database(&name).collection::<Document>("e");
    c_desc
        .insert_many((1..=5).map(
            |i| doc! { "_id": format!("d{i}"), "status": "pending", "at": format!("2024-06-0{i}") },
        ))
        .await
        .unwrap();
    c_desc
        .create_index(
            mongodb::IndexModel::builder()
                .keys(doc! { "status": 1, "at": -1, "_id": -1 })
                .build(),
        )
        .await
        .unwrap();
    let surrogate = is_surrogate(&client).await;
    let (lte_found, gte_found) = (ids(&c, lte).await, ids(&c_desc, gte).await);
    client.database(&name).drop().await.unwrap();
    if surrogate {
        // The upper end of the index scan loses the keys that equal the bound: `$lte` on an ascending
        // field, `$gte` on a descending one.
        assert_eq!(
            (lte_found, gte_found),
            (
                vec!["d1".to_string(), "d2".into()],
                vec!["d4".to_string(), "d5".into()]
            ),
            "SecantusDB now includes the bound value: remove the entries of SURROGATE_DIFFERENCES \
             ({} of them) and the note in docs/mongodb-testing.md",
            SURROGATE_DIFFERENCES.len()
        );
    } else {
        assert_eq!(lte_found, ["d1", "d2", "d3"]);
        assert_eq!(gte_found, ["d3", "d4", "d5"]);
    }
}

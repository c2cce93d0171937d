//! Queries through the SDK against the embedded hub: paging through more items than a page,
//! item types, typed items, the builder, resuming from a token, queries refused locally, and a
//! reported change from a device showing up in a query.
// The helpers below fail the test that calls them, as the tests' own unwraps do.
#![allow(clippy::unwrap_used)]

mod support;

use std::collections::BTreeSet;

use iot_protocol::IfMatch;
use iot_service_sdk::{Query, ServiceError, TwinUpdate, field};
use serde::Deserialize;
use serde_json::json;
use support::{MqttDevice, create, hub, owner};

/// Registers `count` devices `q-00`, `q-01`, ... tagged with their parity.
async fn fleet(client: &iot_service_sdk::ServiceClient, count: usize) -> BTreeSet<String> {
    let mut ids = BTreeSet::new();
    for n in 0..count {
        let id = create(client, &format!("q-{n:02}")).await;
        let parity = if n % 2 == 0 { "even" } else { "odd" };
        let update = TwinUpdate::new().tags(json!({"parity": parity, "n": n}));
        client
            .update_twin(&id, &update, IfMatch::ANY)
            .await
            .unwrap();
        ids.insert(id.to_string());
    }
    ids
}

#[tokio::test]
async fn pages_follow_the_continuation_until_the_end() {
    let hub = hub().await;
    let client = owner(&hub);
    let ids = fleet(&client, 23).await;

    let mut pages = client
        .query("SELECT * FROM devices")
        .unwrap()
        .page_size(10)
        .pages();
    let mut sizes = Vec::new();
    let mut seen = BTreeSet::new();
    while let Some(page) = pages.next().await {
        let page = page.unwrap();
        assert_eq!(page.item_type(), Some("Twin"));
        assert_eq!(
            page.continuation().is_some(),
            sizes.len() < 2,
            "token on all but the last"
        );
        sizes.push(page.len());
        for item in page.items() {
            assert!(
                seen.insert(item["deviceId"].as_str().unwrap().to_owned()),
                "no repeats"
            );
        }
    }
    assert_eq!(sizes, [10, 10, 3]);
    assert_eq!(seen, ids);
    hub.shutdown().await;
}

#[tokio::test]
async fn twins_and_typed_items() {
    let hub = hub().await;
    let client = owner(&hub);
    fleet(&client, 7).await;

    let odd = Query::select_all().where_(field("tags.parity").eq("odd"));
    let twins = client
        .query(odd)
        .unwrap()
        .page_size(2)
        .twins()
        .collect_all()
        .await
        .unwrap();
    let mut names: Vec<_> = twins.iter().map(|t| t.device_id().to_owned()).collect();
    names.sort();
    assert_eq!(names, ["q-01", "q-03", "q-05"]);
    assert!(twins.iter().all(|t| t.tags().content()["parity"] == "odd"));

    #[derive(Debug, Deserialize)]
    struct Row {
        #[serde(rename = "deviceId")]
        device_id: String,
        n: u32,
    }
    let query = Query::select(["deviceId", "tags.n"]).where_(field("tags.n").ge(5));
    let mut pages = client.query(query).unwrap().pages_as::<Row>();
    let page = pages.next().await.unwrap().unwrap();
    assert_eq!(page.item_type(), Some("Raw"));
    let mut rows: Vec<_> = page
        .into_items()
        .into_iter()
        .map(|r| (r.device_id, r.n))
        .collect();
    rows.sort();
    assert_eq!(rows, [("q-05".to_owned(), 5), ("q-06".to_owned(), 6)]);

    let count = Query::count("total").where_("tags.parity = 'even'");
    let totals = client
        .query(count)
        .unwrap()
        .items()
        .collect_all()
        .await
        .unwrap();
    assert_eq!(totals, [json!({"total": 4})]);
    hub.shutdown().await;
}

#[tokio::test]
async fn a_query_resumes_from_a_kept_token() {
    let hub = hub().await;
    let client = owner(&hub);
    let ids = fleet(&client, 5).await;
    let query = Query::parse("SELECT deviceId FROM devices").unwrap();
    let mut first = client.query(&query).unwrap().page_size(3).pages();
    let page = first.next().await.unwrap().unwrap();
    let token = page.continuation().unwrap().to_owned();
    drop(first);

    let rest = client
        .query(&query)
        .unwrap()
        .page_size(3)
        .resume(token)
        .items()
        .collect_all()
        .await
        .unwrap();
    let mut seen: BTreeSet<String> = page
        .items()
        .iter()
        .chain(&rest)
        .map(|row| row["deviceId"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(seen.len(), 5);
    seen.retain(|id| ids.contains(id));
    assert_eq!(seen, ids);
    hub.shutdown().await;
}

#[tokio::test]
async fn bad_queries_are_refused_locally_and_bad_tokens_by_the_hub() {
    let hub = hub().await;
    let client = owner(&hub);
    fleet(&client, 3).await;
    let owned = String::from("SELECT * FROM devices WHERE");
    assert!(matches!(
        client.query(&owned),
        Err(ServiceError::InvalidQuery(_))
    ));
    for text in [
        "SELECT * FROM",
        "SELECT * FROM devices WHERE tags.a = ",
        "DROP devices",
    ] {
        let error = client.query(text).unwrap_err();
        assert!(
            matches!(error, ServiceError::InvalidQuery(_)),
            "{text}: {error:?}"
        );
    }
    let projection = client.query("SELECT deviceId FROM devices").unwrap();
    let error = projection.twins().next().await.unwrap().unwrap_err();
    assert!(
        matches!(
            error,
            ServiceError::OutOfRange {
                argument: "query",
                ..
            }
        ),
        "{error:?}"
    );

    let forged = client
        .query("SELECT * FROM devices")
        .unwrap()
        .resume("not-a-token")
        .pages()
        .next()
        .await
        .unwrap()
        .unwrap_err();
    assert_eq!(forged.status(), Some(400), "{forged:?}");
    hub.shutdown().await;
}

#[tokio::test]
async fn a_reported_change_shows_in_a_query() {
    let hub = hub().await;
    let client = owner(&hub);
    let ids = fleet(&client, 3).await;
    let id = ids.iter().next().unwrap().parse().unwrap();
    let mut device = MqttDevice::connect(&hub, &id).await;
    device
        .report(&json!({"connectivity": {"type": "cellular"}}))
        .await;

    let cellular = Query::select(["deviceId"])
        .where_(field("properties.reported.connectivity.type").eq("cellular"));
    let rows = client
        .query(cellular)
        .unwrap()
        .items()
        .collect_all()
        .await
        .unwrap();
    assert_eq!(rows, [json!({"deviceId": id.as_str()})]);

    let twins = client
        .query("SELECT * FROM devices WHERE connectionState = 'Connected'")
        .unwrap()
        .twins()
        .collect_all()
        .await
        .unwrap();
    assert_eq!(twins.len(), 1);
    assert_eq!(
        twins[0].reported().content()["connectivity"]["type"],
        "cellular"
    );
    device.disconnect().await;
    hub.shutdown().await;
}

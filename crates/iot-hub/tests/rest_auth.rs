//! Authorization of the REST API (PROTOCOL 2, 12): the right each operation needs per
//! default policy, refused tokens, policies set by the builder, and the HTTP surface every
//! client relies on (api-version, unknown routes, keep-alive).
// The helpers below fail the test that calls them, as the tests' own unwraps do.
#![allow(clippy::unwrap_used)]

mod rest_support;

use iot_hub::Hub;
use iot_protocol::{
    AccessRights, DeviceId, ErrorCode, HostName, ResourceUri, SasToken, ServiceConnectionString,
    SharedAccessKey, SharedAccessPolicy,
};
use reqwest::Method;
use rest_support::{Answer, Rest, builder, create_device, hub, unix_now};
use serde_json::json;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// One REST operation and the right it needs.
struct Operation {
    method: Method,
    path: &'static str,
    body: Option<serde_json::Value>,
    needs: AccessRights,
}

fn operations() -> Vec<Operation> {
    let op = |method, path, body, needs| Operation {
        method,
        path,
        body,
        needs,
    };
    let read = AccessRights::REGISTRY_READ;
    let write = AccessRights::REGISTRY_WRITE;
    let service = AccessRights::SERVICE_CONNECT;
    vec![
        op(Method::GET, "/devices/d1", None, read),
        op(Method::GET, "/devices", None, read),
        op(Method::GET, "/statistics/devices", None, read),
        op(Method::GET, "/statistics/service", None, read),
        op(Method::PUT, "/devices/d1", Some(json!({})), write),
        op(Method::DELETE, "/devices/ghost", None, write),
        op(Method::GET, "/twins/d1", None, service),
        op(
            Method::PATCH,
            "/twins/d1",
            Some(json!({"tags": {"a": 1}})),
            service,
        ),
        op(Method::PUT, "/twins/d1", Some(json!({})), service),
        op(
            Method::POST,
            "/devices/query",
            Some(json!({"query": "SELECT * FROM devices"})),
            service,
        ),
        op(
            Method::POST,
            "/twins/d1/methods",
            Some(json!({"methodName": "m"})),
            service,
        ),
    ]
}

async fn perform(rest: &Rest, operation: &Operation) -> Answer {
    match &operation.body {
        Some(body) => {
            rest.json(operation.method.clone(), operation.path, &[], body)
                .await
        }
        None => {
            rest.send(operation.method.clone(), operation.path, &[], None)
                .await
        }
    }
}

#[tokio::test]
async fn each_default_policy_reaches_exactly_its_operations() {
    let hub = hub().await;
    create_device(&Rest::owner(&hub), "d1").await;
    for (policy, rights) in SharedAccessPolicy::HUB_DEFAULTS {
        let rest = Rest::policy(&hub, policy);
        for operation in operations() {
            let answer = perform(&rest, &operation).await;
            let what = format!("{policy}: {} {}", operation.method, operation.path);
            if rights.contains(operation.needs) {
                assert_ne!(answer.status, 401, "{what}");
            } else {
                let message = answer.expect_error(ErrorCode::IotHubUnauthorizedAccess);
                assert!(message.contains(policy), "{what}: {message}");
                assert!(answer.is_legacy_error());
            }
        }
    }
}

#[tokio::test]
async fn refused_tokens_are_401_and_do_not_echo_the_token() {
    let hub = hub().await;
    create_device(&Rest::owner(&hub), "d1").await;
    let owner = hub.service_connection_string().unwrap();
    let service = hub.policy_connection_string("service").unwrap();
    let host = ResourceUri::hub(hub.host_name());
    let later = unix_now() + 3600;
    let device: DeviceId = "d1".parse().unwrap();
    let device_token = hub
        .device_connection_string(&device)
        .unwrap()
        .sas_token(later)
        .unwrap();
    let tokens = [
        None,
        Some("Bearer abc".to_owned()),
        Some("SharedAccessSignature sr=localhost&se=1".to_owned()),
        Some(owner.sas_token(unix_now() - 1).to_secret_string()),
        Some(SasToken::create(&host, owner.key(), Some("service"), later).to_secret_string()),
        Some(SasToken::create(&host, owner.key(), Some("nobody"), later).to_secret_string()),
        Some(
            SasToken::create(
                &ResourceUri::parse("otherhub").unwrap(),
                service.key(),
                Some("service"),
                later,
            )
            .to_secret_string(),
        ),
        Some(device_token.to_secret_string()),
    ];
    for token in tokens {
        let rest = Rest::with_authorization(&hub, token.clone());
        let answer = rest.get("/twins/d1").await;
        let message = answer.expect_error(ErrorCode::IotHubUnauthorizedAccess);
        if let Some(token) = token {
            let signature = token.split("sig=").nth(1).unwrap_or_default();
            let signature = signature.split('&').next().unwrap_or_default();
            assert!(
                signature.is_empty() || !message.contains(signature),
                "{message}"
            );
        }
    }
}

#[tokio::test]
async fn a_host_with_the_rest_port_is_accepted_as_python_signs_it() {
    let hub = hub().await;
    create_device(&Rest::owner(&hub), "d1").await;
    let host: HostName = format!("localhost:{}", hub.rest_addr().port())
        .parse()
        .unwrap();
    let policy = hub
        .shared_access_policies()
        .iter()
        .find(|p| p.name() == "service")
        .unwrap();
    let cs = ServiceConnectionString::for_policy(host, policy);
    let token = cs.sas_token(unix_now() + 60).to_secret_string();
    assert!(token.contains("sr=localhost%3A"), "{token}");
    let rest = Rest::with_authorization(&hub, Some(token));
    rest.get("/twins/d1").await.ok();
}

fn key(byte: u8) -> SharedAccessKey {
    SharedAccessKey::generate([byte; 32])
}

#[tokio::test]
async fn policies_set_by_the_builder_are_used_and_kept() {
    let dir = tempfile::tempdir().unwrap();
    let ops =
        SharedAccessPolicy::new("ops", key(1), key(2), AccessRights::SERVICE_CONNECT).unwrap();
    let owner = SharedAccessPolicy::new("iothubowner", key(3), key(4), AccessRights::ALL).unwrap();
    let hub = builder()
        .data_dir(dir.path())
        .shared_access_policy(ops)
        .shared_access_policy(owner.clone())
        .start()
        .await
        .unwrap();
    let names: Vec<&str> = hub
        .shared_access_policies()
        .iter()
        .map(SharedAccessPolicy::name)
        .collect();
    assert_eq!(
        names,
        [
            "iothubowner",
            "service",
            "device",
            "registryRead",
            "registryReadWrite",
            "ops"
        ]
    );
    assert_eq!(hub.service_connection_string().unwrap().key(), &key(3));
    create_device(&Rest::owner(&hub), "d1").await;
    let ops_rest = Rest::policy(&hub, "ops");
    ops_rest.get("/twins/d1").await.ok();
    ops_rest
        .get("/devices/d1")
        .await
        .expect_error(ErrorCode::IotHubUnauthorizedAccess);
    let secondary = SasToken::create(
        &ResourceUri::hub(hub.host_name()),
        &key(2),
        Some("ops"),
        unix_now() + 60,
    );
    Rest::with_authorization(&hub, Some(secondary.to_secret_string()))
        .get("/twins/d1")
        .await
        .ok();
    let service_key = hub
        .policy_connection_string("service")
        .unwrap()
        .key()
        .clone();
    hub.shutdown().await;

    let hub = builder().data_dir(dir.path()).start().await.unwrap();
    assert_eq!(hub.service_connection_string().unwrap().key(), &key(3));
    assert_eq!(
        hub.policy_connection_string("service").unwrap().key(),
        &service_key
    );
    Rest::policy(&hub, "ops").get("/twins/d1").await.ok();
    assert!(hub.policy_connection_string("nobody").is_none());
    hub.shutdown().await;
}

#[tokio::test]
async fn more_than_sixteen_policies_are_refused() {
    let mut too_many = builder().in_memory();
    for n in 0..12u8 {
        let policy =
            SharedAccessPolicy::new(&format!("p{n}"), key(n), key(n), AccessRights::NONE).unwrap();
        too_many = too_many.shared_access_policy(policy);
    }
    let error = too_many.start().await.unwrap_err();
    assert!(error.to_string().contains("at most 16"), "{error}");
}

#[tokio::test]
async fn any_api_version_unknown_routes_and_methods() {
    let hub = hub().await;
    let rest = Rest::owner(&hub);
    create_device(&rest, "d1").await;
    for path in [
        "/devices/d1",
        "/devices/d1?api-version=1999-01-01",
        "/devices/d1?x=1",
    ] {
        let answer = rest.send_raw_path(Method::GET, path).await;
        assert_eq!(answer.ok()["deviceId"], "d1", "{path}");
    }
    let missing = rest.get("/nothing/here").await;
    let message = missing.expect_error(ErrorCode::GenericNotFound);
    assert!(message.contains("/nothing/here"), "{message}");
    rest.send(Method::POST, "/devices/d1", &[], None)
        .await
        .expect_error(ErrorCode::GenericMethodNotAllowed);
    rest.send(Method::GET, "/devices/query", &[], None)
        .await
        .expect_error(ErrorCode::GenericMethodNotAllowed);
}

/// Reads one HTTP/1.1 response with a `Content-Length` (or none, for 204): its status line
/// and body.
async fn read_response(reader: &mut BufReader<TcpStream>) -> (String, Vec<u8>) {
    let mut status = String::new();
    reader.read_line(&mut status).await.unwrap();
    let mut length = 0;
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).await.unwrap();
        if line == "\r\n" {
            break;
        }
        if let Some((name, value)) = line.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().unwrap();
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).await.unwrap();
    (status.trim_end().to_owned(), body)
}

#[tokio::test]
async fn requests_share_one_kept_alive_connection() {
    let hub: Hub = hub().await;
    create_device(&Rest::owner(&hub), "d1").await;
    let token = rest_support::policy_token(&hub, "iothubowner");
    let mut reader = BufReader::new(TcpStream::connect(hub.rest_addr()).await.unwrap());
    let body = r#"{"tags":{"n":1}}"#;
    let requests = [
        format!(
            "GET /twins/d1?api-version=2021-04-12 HTTP/1.1\r\nHost: localhost\r\nAuthorization: {token}\r\n\r\n"
        ),
        format!(
            "PATCH /twins/d1 HTTP/1.1\r\nHost: localhost\r\nAuthorization: {token}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        ),
        format!(
            "DELETE /devices/d1 HTTP/1.1\r\nHost: localhost\r\nAuthorization: {token}\r\nIf-Match: \"*\"\r\n\r\n"
        ),
        format!("GET /devices/d1 HTTP/1.1\r\nHost: localhost\r\nAuthorization: {token}\r\n\r\n"),
    ];
    let mut statuses = Vec::new();
    for request in requests {
        reader
            .get_mut()
            .write_all(request.as_bytes())
            .await
            .unwrap();
        let (status, _) = tokio::time::timeout(rest_support::WAIT, read_response(&mut reader))
            .await
            .unwrap();
        statuses.push(status);
    }
    assert_eq!(
        statuses,
        [
            "HTTP/1.1 200 OK",
            "HTTP/1.1 200 OK",
            "HTTP/1.1 204 No Content",
            "HTTP/1.1 404 Not Found"
        ]
    );
}

//! The registry, twin and direct-method steps of `interop_service` (PROTOCOL 4, 6, 11).

use std::time::Duration;

use iot_methods::MethodInvocation;
use iot_protocol::{Device, DeviceStatus, ErrorCode, IfMatch};
use iot_service_sdk::TwinUpdate;
use iot_twin::ConnectionState as TwinConnectionState;
use serde_json::{Value, json};

use super::{
    DEVICE_WAIT, Scenario, check, contains, expect_status, rejected_patches, show, wait_for,
};

impl Scenario {
    // Identity registry (PROTOCOL 11).

    pub(super) async fn registry_create(&mut self) -> Result<(), String> {
        let id = self.id("tmp")?;
        let device = self
            .client
            .create_device(&Device::new(id.clone()))
            .await
            .map_err(show)?;
        self.temporary.push(id.clone());
        let keys = device.authentication.and_then(|a| a.symmetric_key);
        check(
            keys.is_some_and(|k| k.primary_key.is_some() && k.secondary_key.is_some()),
            "the hub generated no keys",
        )?;
        check(device.etag.is_some(), "the new device has no etag")?;
        let again = self.client.create_device(&Device::new(id)).await;
        expect_status(again, 409, "creating it twice").map(drop)
    }

    pub(super) async fn registry_list(&self) -> Result<(), String> {
        let devices = self.client.list_devices(Some(1000)).await.map_err(show)?;
        let tmp = self.id("tmp")?;
        check(
            devices.iter().any(|d| d.device_id == tmp),
            "the new device is not listed",
        )?;
        let statistics = self.client.registry_statistics().await.map_err(show)?;
        check(
            statistics.total_device_count >= devices.len() as u64,
            format!("{statistics:?}"),
        )?;
        self.client
            .service_statistics()
            .await
            .map(drop)
            .map_err(show)
    }

    pub(super) async fn registry_get(&self) -> Result<(), String> {
        let device = self
            .client
            .get_device(&self.id("tmp")?)
            .await
            .map_err(show)?;
        check(
            device.device_id == self.id("tmp")?,
            format!("got device {}", device.device_id),
        )?;
        check(
            device.status == Some(DeviceStatus::Enabled),
            format!("status {:?}", device.status),
        )
    }

    pub(super) async fn registry_update(&mut self) -> Result<(), String> {
        let mut device = self
            .client
            .get_device(&self.id("tmp")?)
            .await
            .map_err(show)?;
        let etag = device.etag.clone().ok_or("the device has no etag")?;
        device.status = Some(DeviceStatus::Disabled);
        let if_match = IfMatch::etag(&etag).map_err(show)?;
        let updated = self
            .client
            .update_device(&device, if_match.clone())
            .await
            .map_err(show)?;
        check(
            updated.status == Some(DeviceStatus::Disabled),
            format!("status after update {:?}", updated.status),
        )?;
        check(
            updated.etag.as_deref() != Some(etag.as_str()),
            "the etag did not change",
        )?;
        let stale = self.client.update_device(&device, if_match).await;
        expect_status(stale, 412, "updating with a stale etag")?;
        self.stale_device_etag = etag;
        Ok(())
    }

    pub(super) async fn registry_delete(&mut self) -> Result<(), String> {
        let id = self.id("tmp")?;
        let stale = IfMatch::etag(&self.stale_device_etag).map_err(show)?;
        let refused = self.client.delete_device(&id, stale).await;
        expect_status(refused, 412, "deleting with a stale etag")?;
        let device = self.client.get_device(&id).await.map_err(show)?;
        let current = IfMatch::etag(device.etag.as_deref().unwrap_or_default()).map_err(show)?;
        self.client
            .delete_device(&id, current)
            .await
            .map_err(show)?;
        self.temporary.retain(|t| *t != id);
        expect_status(
            self.client.get_device(&id).await,
            404,
            "reading the deleted device",
        )
        .map(drop)
    }

    // Twins (PROTOCOL 6).

    pub(super) async fn twin_get(&mut self) -> Result<(), String> {
        let twin = self.client.get_twin(&self.device_id).await.map_err(show)?;
        check(
            twin.device_id() == self.device_id.as_str(),
            format!("twin of {}", twin.device_id()),
        )?;
        check(
            twin.desired().version().is_some() && twin.reported().version().is_some(),
            "a section has no $version",
        )?;
        self.etag = twin.etag().as_str().to_owned();
        Ok(())
    }

    pub(super) async fn twin_update(&mut self) -> Result<(), String> {
        let update = TwinUpdate::new()
            .tags(json!({"interopPair": self.pair}))
            .desired(json!({"greeting": format!("hello {}", self.pair)}));
        let stale = IfMatch::etag(&self.etag).map_err(show)?;
        let twin = self
            .client
            .update_twin(&self.device_id, &update, stale.clone())
            .await
            .map_err(show)?;
        check(
            twin.tags().content().get("interopPair") == Some(&json!(self.pair)),
            "tags unset",
        )?;
        check(
            twin.desired().content().contains_key("greeting"),
            "desired unset",
        )?;
        check(twin.etag().as_str() != self.etag, "the etag did not change")?;
        self.etag = twin.etag().as_str().to_owned();
        let again = self
            .client
            .update_twin(&self.device_id, &update, stale)
            .await;
        expect_status(again, 412, "updating with a stale etag").map(drop)
    }

    pub(super) async fn twin_replace(&mut self) -> Result<(), String> {
        let desired = json!({"greeting": format!("hello {}", self.pair), "mode": "replaced"});
        let replacement = TwinUpdate::new()
            .tags(json!({"interopPair": self.pair}))
            .desired(desired.clone());
        let if_match = IfMatch::etag(&self.etag).map_err(show)?;
        let twin = self
            .client
            .replace_twin(&self.device_id, &replacement, if_match)
            .await
            .map_err(show)?;
        let content = Value::Object(twin.desired().content().clone());
        check(
            content == desired,
            format!("desired after replace {content}"),
        )?;
        let tags = Value::Object(twin.tags().content().clone());
        check(
            tags == json!({"interopPair": self.pair}),
            format!("tags after replace {tags}"),
        )?;
        self.etag = twin.etag().as_str().to_owned();
        Ok(())
    }

    pub(super) async fn twin_reported(&self) -> Result<(), String> {
        let expected = json!({"interop": {"pair": self.pair}});
        wait_for(
            Duration::from_secs(DEVICE_WAIT),
            "the reported properties did not reach the twin",
            || async {
                let twin = self.client.get_twin(&self.device_id).await.map_err(show)?;
                Ok(
                    contains(&Value::Object(twin.reported().content().clone()), &expected)
                        .then_some(twin),
                )
            },
        )
        .await
        .and_then(|twin| {
            let state = twin.registry().connection_state;
            check(
                state == Some(TwinConnectionState::Connected),
                format!("connection state {state:?}"),
            )
        })
    }

    pub(super) async fn rejected_not_stored(&self) -> Result<(), String> {
        let twin = self.client.get_twin(&self.device_id).await.map_err(show)?;
        let reported = twin.reported().content();
        let stored: Vec<&String> = rejected_patches()
            .iter()
            .filter_map(Value::as_object)
            .flat_map(|patch| patch.keys())
            .filter_map(|key| reported.get_key_value(key).map(|(key, _)| key))
            .collect();
        check(
            stored.is_empty(),
            format!("rejected properties {stored:?} are in the twin"),
        )
    }

    pub(super) async fn set_desired(&self, desired: Value) -> Result<(), String> {
        let update = TwinUpdate::new().desired(desired.clone());
        let twin = self
            .client
            .update_twin(&self.device_id, &update, IfMatch::ANY)
            .await
            .map_err(show)?;
        let content = twin.desired().content();
        for (key, value) in desired.as_object().into_iter().flatten() {
            let found = content.get(key);
            let applied = if value.is_null() {
                found.is_none()
            } else {
                found == Some(value)
            };
            check(
                applied,
                format!("{key} is {found:?} in the twin, not {value}"),
            )?;
        }
        Ok(())
    }

    // Direct methods (PROTOCOL 4).

    pub(super) async fn methods_invoke(&self) -> Result<(), String> {
        let call = MethodInvocation::new("echo".parse().map_err(show)?, json!({"n": 7}))
            .and_then(|c| c.with_response_timeout(Duration::from_secs(10)))
            .map_err(show)?;
        let result = self
            .client
            .invoke_method(&self.device_id, &call)
            .await
            .map_err(show)?;
        check(
            result.status() == 200,
            format!("device status {}", result.status()),
        )?;
        let expected = json!({"method": "echo", "echo": {"n": 7}});
        check(
            *result.payload() == expected,
            format!("payload {}", result.payload()),
        )
    }

    pub(super) async fn methods_unknown_device(&self) -> Result<(), String> {
        let call = MethodInvocation::new("echo".parse().map_err(show)?, Value::Null)
            .and_then(|c| c.with_response_timeout(Duration::from_secs(5)))
            .map_err(show)?;
        let result = self.client.invoke_method(&self.id("nobody")?, &call).await;
        let error = expect_status(result, 404, "calling a device that does not exist")?;
        check(
            error.error_code() == Some(ErrorCode::DeviceNotFound),
            format!("error code {:?}", error.error_code()),
        )
    }

    pub(super) async fn methods_timeout(&self) -> Result<(), String> {
        let call = MethodInvocation::new("slow".parse().map_err(show)?, json!({"seconds": 8}))
            .and_then(|c| c.with_response_timeout(Duration::from_secs(5)))
            .map_err(show)?;
        let result = self.client.invoke_method(&self.device_id, &call).await;
        let error = expect_status(result, 504, "a device answering after the response timeout")?;
        check(
            error.error_code() == Some(ErrorCode::GatewayTimeout),
            format!("error code {:?}", error.error_code()),
        )
    }

    pub(super) async fn methods_invoke_null(&self) -> Result<(), String> {
        let call = MethodInvocation::new("echo".parse().map_err(show)?, Value::Null)
            .and_then(|c| c.with_response_timeout(Duration::from_secs(10)))
            .map_err(show)?;
        let result = self
            .client
            .invoke_method(&self.device_id, &call)
            .await
            .map_err(show)?;
        check(
            result.status() == 200,
            format!("device status {}", result.status()),
        )?;
        let expected = json!({"method": "echo", "echo": null});
        check(
            *result.payload() == expected,
            format!("payload {}", result.payload()),
        )
    }

    pub(super) async fn methods_not_online(&mut self) -> Result<(), String> {
        let id = self.id("offline")?;
        self.client
            .create_device(&Device::new(id.clone()))
            .await
            .map_err(show)?;
        self.temporary.push(id.clone());
        let call = MethodInvocation::new("echo".parse().map_err(show)?, Value::Null)
            .and_then(|c| c.with_response_timeout(Duration::from_secs(5)))
            .and_then(|c| c.with_connect_timeout(Duration::ZERO))
            .map_err(show)?;
        let result = self.client.invoke_method(&id, &call).await;
        let error = expect_status(result, 404, "calling a device that never connected")?;
        check(
            error.error_code() == Some(ErrorCode::DeviceNotOnline),
            format!("error code {:?}", error.error_code()),
        )
    }
}

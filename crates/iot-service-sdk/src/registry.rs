//! The identity registry (PROTOCOL 11.1): create, read, update, delete and list devices, switch
//! them on and off, and read the registry's statistics.

use iot_protocol::{
    Device, DeviceId, DeviceStatus, IfMatch, RegistryStatistics, ServiceStatistics,
};

use crate::request::{Method, Request, Segment, path};
use crate::{ServiceClient, ServiceError};

/// The most devices `GET /devices` returns (`top` ≤ 1000, PROTOCOL 11.1).
pub const MAX_LIST_DEVICES: u32 = 1000;

/// How many times [`ServiceClient::enable_device`] and [`ServiceClient::disable_device`] read
/// and write again when another writer changed the device in between.
const STATUS_WRITE_ATTEMPTS: usize = 3;

fn device_path(id: &DeviceId) -> String {
    path(&[Segment::Literal("devices"), Segment::Id(id.as_str())])
}

impl ServiceClient {
    /// Registers a device (`PUT /devices/{id}` without `If-Match`) and returns it as the hub
    /// stored it. Leave `authentication` out (or its keys empty) and the hub generates both
    /// keys; `status` defaults to enabled.
    ///
    /// Not retried once sent: a create that reached the hub would fail again with
    /// [`ServiceError::AlreadyExists`].
    ///
    /// ```no_run
    /// # async fn run(client: iot_service_sdk::ServiceClient) -> Result<(), iot_service_sdk::ServiceError> {
    /// use iot_protocol::Device;
    ///
    /// let device = client.create_device(&Device::new("pump-7".parse()?)).await?;
    /// let keys = device.authentication.and_then(|a| a.symmetric_key);
    /// assert!(keys.is_some_and(|k| k.primary_key.is_some()));
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    /// [`ServiceError::AlreadyExists`] when the id is taken, [`ServiceError::BadRequest`] for a
    /// body the hub refuses, and the errors every call can have.
    pub async fn create_device(&self, device: &Device) -> Result<Device, ServiceError> {
        let request = Request::new(Method::Put, device_path(&device.device_id))
            .device(&device.device_id)
            .json(device)?;
        self.execute_json(request, "device").await
    }

    /// Reads a device (`GET /devices/{id}`).
    ///
    /// # Errors
    /// [`ServiceError::NotFound`] when there is no such device.
    pub async fn get_device(&self, id: &DeviceId) -> Result<Device, ServiceError> {
        let request = Request::new(Method::Get, device_path(id)).device(id);
        self.execute_json(request, "device").await
    }

    /// Replaces a device's registry entry (`PUT /devices/{id}` with `If-Match`): with
    /// [`IfMatch::ANY`] unconditionally, with an etag (`IfMatch::etag(device.etag...)`) only if
    /// nobody changed the device since it was read.
    ///
    /// # Errors
    /// [`ServiceError::PreconditionFailed`] when the etag is stale, [`ServiceError::NotFound`]
    /// when there is no such device.
    pub async fn update_device(
        &self,
        device: &Device,
        if_match: IfMatch,
    ) -> Result<Device, ServiceError> {
        let request = Request::new(Method::Put, device_path(&device.device_id))
            .device(&device.device_id)
            .if_match(if_match)
            .json(device)?;
        self.execute_json(request, "device").await
    }

    /// Deletes a device and its twin (`DELETE /devices/{id}`): with [`IfMatch::ANY`]
    /// unconditionally, with an etag only if nobody changed the device since it was read. A
    /// connected device is disconnected.
    ///
    /// # Errors
    /// [`ServiceError::NotFound`] when there is no such device,
    /// [`ServiceError::PreconditionFailed`] when the etag is stale.
    pub async fn delete_device(
        &self,
        id: &DeviceId,
        if_match: IfMatch,
    ) -> Result<(), ServiceError> {
        let request = Request::new(Method::Delete, device_path(id))
            .device(id)
            .if_match(if_match);
        self.execute(request).await.map(drop)
    }

    /// Lists devices (`GET /devices`), at most `top` of them (1 to [`MAX_LIST_DEVICES`];
    /// `None` lets the hub choose). For more, or for a selection, use a query.
    ///
    /// # Errors
    /// [`ServiceError::OutOfRange`] for a `top` outside 1 to 1000, before sending.
    pub async fn list_devices(&self, top: Option<u32>) -> Result<Vec<Device>, ServiceError> {
        let mut request = Request::new(Method::Get, path(&[Segment::Literal("devices")]));
        if let Some(top) = top {
            if !(1..=MAX_LIST_DEVICES).contains(&top) {
                return Err(ServiceError::out_of_range(
                    "top",
                    format!("must be between 1 and {MAX_LIST_DEVICES}, not {top}"),
                ));
            }
            request = request.param("top", top.to_string());
        }
        self.execute_json(request, "device list").await
    }

    /// Lets a device connect again and returns the updated device.
    ///
    /// # Errors
    /// As [`Self::get_device`] and [`Self::update_device`].
    pub async fn enable_device(&self, id: &DeviceId) -> Result<Device, ServiceError> {
        self.set_status(id, DeviceStatus::Enabled).await
    }

    /// Stops a device from connecting (and disconnects it) and returns the updated device.
    ///
    /// # Errors
    /// As [`Self::get_device`] and [`Self::update_device`].
    pub async fn disable_device(&self, id: &DeviceId) -> Result<Device, ServiceError> {
        self.set_status(id, DeviceStatus::Disabled).await
    }

    /// Reads the device, sets its status and writes it back under its etag, so that a
    /// concurrent change is never overwritten; reads again (a few times at most) when the etag
    /// went stale in between.
    async fn set_status(
        &self,
        id: &DeviceId,
        status: DeviceStatus,
    ) -> Result<Device, ServiceError> {
        let mut attempts = 0;
        loop {
            attempts += 1;
            let mut device = self.get_device(id).await?;
            if device.status == Some(status) {
                return Ok(device);
            }
            device.status = Some(status);
            let if_match = match device.etag.as_deref() {
                Some(etag) => IfMatch::etag(etag).map_err(|e| {
                    ServiceError::protocol(format!("the device's etag is not usable: {e}"))
                })?,
                None => IfMatch::ANY,
            };
            match self.update_device(&device, if_match).await {
                Err(ServiceError::PreconditionFailed { .. })
                    if attempts < STATUS_WRITE_ATTEMPTS =>
                {
                    tracing::debug!(device = %id, attempts, "device changed meanwhile, reading again");
                }
                result => return result,
            }
        }
    }

    /// Counts the registry's devices (`GET /statistics/devices`): total, enabled, disabled.
    ///
    /// # Errors
    /// The errors every call can have.
    pub async fn registry_statistics(&self) -> Result<RegistryStatistics, ServiceError> {
        let request = Request::new(
            Method::Get,
            path(&[Segment::Literal("statistics"), Segment::Literal("devices")]),
        );
        self.execute_json(request, "registry statistics").await
    }

    /// Counts the connected devices (`GET /statistics/service`).
    ///
    /// # Errors
    /// The errors every call can have.
    pub async fn service_statistics(&self) -> Result<ServiceStatistics, ServiceError> {
        let request = Request::new(
            Method::Get,
            path(&[Segment::Literal("statistics"), Segment::Literal("service")]),
        );
        self.execute_json(request, "service statistics").await
    }
}

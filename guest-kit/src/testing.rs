//! A [`Host`] for connector tests, natively: it answers from fixed values and
//! records what the connector asked, so a test can check both.

use std::cell::RefCell;
use std::collections::BTreeMap;

use crate::{AssumeRole, CapabilityError, Credentials, Host, Level};

/// Answers SSM reads from `parameters`, settings from `settings`, AssumeRole
/// with `role_credentials`, and the worker's credentials with `worker` (or
/// `not-granted`); records every AssumeRole, log line and setting asked for.
#[derive(Debug, Default)]
pub struct FakeHost {
    /// SSM parameters by name.
    pub parameters: BTreeMap<String, String>,
    /// Worker settings by key.
    pub settings: BTreeMap<String, String>,
    /// The worker's credentials, if granted.
    pub worker: Option<Credentials>,
    /// What every AssumeRole returns (defaults to [`FakeHost::role_credentials`]).
    pub role_credentials: Option<Credentials>,
    /// Each AssumeRole asked for, with its source credentials.
    pub assumed: RefCell<Vec<(AssumeRole, Option<Credentials>)>>,
    /// Each SSM parameter name read.
    pub read: RefCell<Vec<String>>,
    /// Each log line.
    pub logged: RefCell<Vec<(Level, String)>>,
    /// Each worker setting asked for, by key.
    pub settings_read: RefCell<Vec<String>>,
}

impl FakeHost {
    /// With an SSM parameter.
    pub fn with_parameter(mut self, name: &str, value: &str) -> Self {
        self.parameters.insert(name.into(), value.into());
        self
    }

    /// With a worker setting.
    pub fn with_setting(mut self, key: &str, value: &str) -> Self {
        self.settings.insert(key.into(), value.into());
        self
    }

    /// With the worker's credentials granted.
    pub fn with_worker_credentials(mut self, credentials: Credentials) -> Self {
        self.worker = Some(credentials);
        self
    }

    /// The temporary credentials AssumeRole returns by default.
    pub fn role_credentials() -> Credentials {
        Credentials {
            access_key_id: "ASIAFAKEROLE".into(),
            secret_access_key: "fake-role-secret".into(),
            session_token: Some("fake-role-token".into()),
            expiration: Some(1_900_000_000),
            region: None,
            endpoint_url: None,
        }
    }

    /// The AssumeRole requests, without their sources.
    pub fn assumed_requests(&self) -> Vec<AssumeRole> {
        self.assumed.borrow().iter().map(|(request, _)| request.clone()).collect()
    }
}

impl Host for FakeHost {
    fn get_parameter(&self, name: &str) -> Result<String, CapabilityError> {
        self.read.borrow_mut().push(name.to_string());
        self.parameters
            .get(name)
            .cloned()
            .ok_or_else(|| CapabilityError::NotFound(format!("SSM parameter `{name}` does not exist")))
    }

    fn assume_role(&self, request: &AssumeRole, source: Option<&Credentials>) -> Result<Credentials, CapabilityError> {
        self.assumed.borrow_mut().push((request.clone(), source.cloned()));
        Ok(self.role_credentials.clone().unwrap_or_else(Self::role_credentials))
    }

    fn worker_credentials(&self) -> Result<Credentials, CapabilityError> {
        self.worker.clone().ok_or_else(|| CapabilityError::NotGranted("the worker's own credentials".into()))
    }

    fn log(&self, level: Level, message: &str) {
        self.logged.borrow_mut().push((level, message.to_string()));
    }

    fn setting(&self, key: &str) -> Option<String> {
        self.settings_read.borrow_mut().push(key.to_string());
        self.settings.get(key).cloned()
    }
}

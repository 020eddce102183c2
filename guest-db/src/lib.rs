//! The database login lava's families share (`lava/connection/core.py`,
//! `expand_sql_conn_spec`): `host`, `port`, `database`, `user`, a
//! `password` that is the NAME of an SSM parameter (read first), a
//! `secret_id` whose JSON fills only what the spec leaves out (its password
//! used as it is), lava's TLS fields; and the RDS IAM token a `-rds` or
//! `-aurora` type uses when there is no password.

use lava_guest_kit::{AuthToken, Host, Port, Problem};
use lava_rules::{login, sts};
use serde_json::{Map, Value};

/// Declare a database family's typed spec: lava's login fields (the same
/// for every family, in the same words), then the family's own; with
/// `connector_type()` and `login()`. One declaration of the fields lava's
/// `expand_sql_conn_spec` reads, for postgres, mysql and oracle alike.
#[macro_export]
macro_rules! database_spec {
    ($(#[$meta:meta])* pub struct $name:ident { $($(#[$field_meta:meta])* pub $field:ident : $ty:ty),* $(,)? }) => {
        $(#[$meta])*
        #[derive(::lava_guest_kit::Spec)]
        pub struct $name {
            r#type: String,
            /// The database server's host name (or the secret's `host`).
            pub host: Option<String>,
            /// Its port, a number or a string of digits (or the secret's `port`).
            pub port: Option<::lava_guest_kit::Port>,
            /// The database (or the secret's `dbname`).
            pub database: Option<String>,
            /// The user (or the secret's `username`).
            pub user: Option<String>,
            /// The NAME of an SSM SecureString parameter holding the password
            /// (without it, the secret's; the `-rds`, `-aurora` and `redshift`
            /// types that have one use their IAM login).
            pub password: Option<String>,
            /// A Secrets Manager secret (JSON) whose `username`, `password`,
            /// `host`, `port` and `dbname` fill the fields the spec leaves out.
            pub secret_id: Option<String>,
            /// `require`, `verify-ca` or `verify-full` (lava's TLS modes).
            pub ssl_mode: Option<String>,
            /// Deprecated (lava): `true` means `ssl_mode: require`.
            pub ssl: Option<bool>,
            /// A CA file for verify-ca/verify-full: not supported yet (see the docs).
            pub ssl_ca_file: Option<String>,
            /// Deprecated (lava) name of `ssl_ca_file`.
            pub ca_cert: Option<String>,
            /// Who owns the connection.
            pub owner: Option<String>,
            /// lava's Python driver; unused by the stand-in.
            pub subtype: Option<String>,
            $($(#[$field_meta])* pub $field: $ty,)*
        }

        impl $name {
            /// The spec's type, lowercase.
            pub fn connector_type(&self) -> String {
                self.r#type.to_ascii_lowercase()
            }

            /// The login fields lava's database families share.
            pub fn login(&self) -> $crate::LoginFields {
                $crate::LoginFields {
                    host: self.host.clone(),
                    port: self.port,
                    database: self.database.clone(),
                    user: self.user.clone(),
                    password: self.password.clone(),
                    secret_id: self.secret_id.clone(),
                    ssl_mode: self.ssl_mode.clone(),
                    ssl: self.ssl,
                    ssl_ca_file: self.ssl_ca_file.clone(),
                    ca_cert: self.ca_cert.clone(),
                }
            }
        }
    };
}

/// A spec's login fields, as a family's typed spec holds them.
#[derive(Clone, Debug, Default)]
pub struct LoginFields {
    pub host: Option<String>,
    pub port: Option<Port>,
    pub database: Option<String>,
    pub user: Option<String>,
    /// The NAME of an SSM parameter holding the password.
    pub password: Option<String>,
    pub secret_id: Option<String>,
    pub ssl_mode: Option<String>,
    pub ssl: Option<bool>,
    pub ssl_ca_file: Option<String>,
    pub ca_cert: Option<String>,
}

/// lava's TLS modes (`lava/lib/ssl.py`, `SSL_MODES`).
pub const TLS_MODES: [&str; 3] = ["require", "verify-ca", "verify-full"];

/// How a family checks a login: which fields it may do without.
pub struct Rules<'a> {
    /// `Some((type, note))` when a spec of this type must name a password
    /// (or a secret): it has no IAM login. The note says which types have.
    pub password_needed_by: Option<(&'a str, &'a str)>,
    /// Whether `user` may be absent (an IAM identity names it).
    pub user_optional: bool,
}

impl LoginFields {
    /// lava's TLS mode: `ssl_mode`, else `require` for the older `ssl: true`.
    pub fn tls_mode(&self) -> Option<String> {
        self.ssl_mode.clone().or_else(|| (self.ssl == Some(true)).then(|| "require".to_string()))
    }

    /// Each field's problems that no secret can fill in, and lava's TLS rules.
    pub fn check(&self, rules: &Rules<'_>, problems: &mut Vec<Problem>) {
        self.check_fields(rules, problems);
        self.check_password(rules, problems);
        self.check_tls(problems);
    }

    fn check_fields(&self, rules: &Rules<'_>, problems: &mut Vec<Problem>) {
        let from_secret = self.secret_id.is_some();
        for (field, value) in [("host", &self.host), ("database", &self.database), ("user", &self.user)] {
            // The host's own rule for a login's words: said here first.
            let problem = |text: &str| match field {
                "host" => login::host_problem(text),
                _ => login::word_problem(text),
            };
            match value {
                Some(text) if let Some(message) = problem(text) => {
                    problems.push(Problem::error(field, message));
                }
                None if !(from_secret || field == "user" && rules.user_optional) => {
                    problems.push(Problem::error(field, "is required (or a `secret_id` whose secret holds it)"));
                }
                _ => {}
            }
        }
        if self.port.is_none() && !from_secret {
            problems.push(Problem::error("port", "is required (or a `secret_id` whose secret holds it)"));
        }
        if self.secret_id.as_deref().is_some_and(|id| id.trim().is_empty()) {
            problems.push(Problem::error("secret_id", "must name a Secrets Manager secret, not be empty"));
        }
    }

    fn check_password(&self, rules: &Rules<'_>, problems: &mut Vec<Problem>) {
        if let Some(name) = &self.password {
            if let Some(message) = sts::ssm_name_problem(name) {
                let hint = "(password is the NAME of an SSM parameter holding it, not the password)";
                problems.push(Problem::error("password", format!("{message} {hint}")));
            }
        } else if let Some((connector_type, note)) = rules.password_needed_by
            && self.secret_id.is_none()
        {
            let message = format!(
                "is required for a `{connector_type}` connection: the name of an SSM parameter holding it, or a \
                 `secret_id` ({note})"
            );
            problems.push(Problem::error("password", message));
        }
    }

    fn check_tls(&self, problems: &mut Vec<Problem>) {
        if let Some(mode) = self.ssl_mode.as_deref().filter(|m| !TLS_MODES.contains(m)) {
            let message = format!("must be `require`, `verify-ca` or `verify-full` (lava's modes), not `{mode}`");
            problems.push(Problem::error("ssl_mode", message));
        }
        if self.ssl_mode.is_some() && self.ssl.is_some() {
            problems.push(Problem::warning("ssl", "is ignored: ssl_mode is set (ssl is lava's older name for it)"));
        }
        for (field, value) in [("ssl_ca_file", &self.ssl_ca_file), ("ca_cert", &self.ca_cert)] {
            if value.is_some() {
                let message = "is not supported by lava-conn yet: a sandboxed connector reads no files or URLs; \
                               remove it (the client then checks the server against its default CAs)";
                problems.push(Problem::error(field, message));
            }
        }
    }

    /// The login as far as the spec, its SSM password and its secret give
    /// it, in lava's order.
    pub fn read(&self, host: &dyn Host) -> Result<Parts, String> {
        let mut parts = Parts {
            host: self.host.clone(),
            port: self.port.map(|Port(p)| p),
            user: self.user.clone(),
            database: self.database.clone(),
            password: None,
            service_name: None,
            secret_id: self.secret_id.clone(),
        };
        if let Some(name) = &self.password {
            let read = host.get_parameter(name);
            parts.password = Some(read.map_err(|e| format!("password: cannot read SSM parameter `{name}`: {e}"))?);
        }
        if let Some(secret_id) = &self.secret_id {
            parts.fill_from_secret(secret_id, host)?;
        }
        Ok(parts)
    }
}

/// The login as it is filled in.
#[derive(Default)]
pub struct Parts {
    pub host: Option<String>,
    pub port: Option<u16>,
    pub user: Option<String>,
    pub database: Option<String>,
    pub password: Option<String>,
    /// The secret's `serviceName` (lava's map gives it to oracle's `service_name`).
    pub service_name: Option<String>,
    secret_id: Option<String>,
}

impl Parts {
    /// `value`, or an error naming `field` and where it was looked for.
    pub fn required<T>(&self, value: Option<T>, field: &str) -> Result<T, String> {
        value.ok_or_else(|| match &self.secret_id {
            Some(id) => format!("{field}: neither the spec nor the secret `{id}` gives one"),
            None => format!("{field}: is required"),
        })
    }

    /// lava's `SECMAN_DBLOGIN_MAP`: the secret's keys for the login's fields.
    fn fill_from_secret(&mut self, secret_id: &str, host: &dyn Host) -> Result<(), String> {
        let text = host
            .get_secret_value(secret_id)
            .map_err(|e| format!("secret_id: cannot read secret `{secret_id}`: {e}"))?;
        let secret: Map<String, Value> = serde_json::from_str(&text).map_err(|_| {
            format!("secret_id: the secret `{secret_id}` is not a JSON object of login fields (username, password, …)")
        })?;
        let text_of = |key: &str| -> Result<Option<String>, String> {
            match secret.get(key) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(_) => Err(format!("secret_id: the secret `{secret_id}`'s `{key}` must be a string")),
            }
        };
        fill(&mut self.user, text_of("username")?);
        fill(&mut self.password, text_of("password")?);
        fill(&mut self.host, text_of("host")?);
        fill(&mut self.database, text_of("dbname")?);
        self.service_name = text_of("serviceName")?;
        if self.port.is_none()
            && let Some(port) = secret.get("port").filter(|v| !v.is_null())
        {
            let read = <Port as lava_guest_kit::FieldValue>::from_value(port);
            let Port(port) = read.map_err(|e| format!("secret_id: the secret `{secret_id}`'s `port` {}", e.message))?;
            self.port = Some(port);
        }
        Ok(())
    }

    /// An RDS IAM authentication token for the login's host, port and user,
    /// in the worker's region (lava's `get_rds_creds_with_iam`): (user, token).
    pub fn rds_token(&self, host: &dyn Host) -> Result<(String, String), String> {
        let user = self.required(self.user.clone(), "user")?;
        let request = AuthToken {
            host: self.host.clone().unwrap_or_default(),
            port: self.port.unwrap_or_default(),
            user: user.clone(),
            ..AuthToken::default()
        };
        let token = host.generate_auth_token(&request).map_err(|e| format!("cannot get an RDS IAM token: {e}"))?;
        Ok((user, token))
    }
}

fn fill(field: &mut Option<String>, from_secret: Option<String>) {
    if field.is_none() {
        *field = from_secret;
    }
}

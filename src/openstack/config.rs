//! Where the OpenStack credentials come from: `OS_*` variables (as the
//! OpenStack clients read them) and clouds.yaml (+ secure.yaml).
//!
//! Every field is optional so that sources can be layered with
//! [`CloudConfig::overlay`] (clouds.yaml, then environment, then agent
//! parameters); [`CloudConfig::validate`] says what is still missing.
//! Environment access goes through a `lookup` closure so tests never touch
//! the process environment (tests run in parallel threads).

use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use serde_norway::{Mapping, Value};

use crate::error::{Error, Result};

pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
pub const DEFAULT_READ_TIMEOUT: Duration = Duration::from_secs(30);
/// Keystone's built-in domain; what the OpenStack clients assume when a
/// user or project is given by name without a domain.
pub const DEFAULT_DOMAIN_ID: &str = "default";

/// A password, application credential secret or token. Debug and Display
/// print `<redacted>` so a secret cannot leak through `{:?}` of a config,
/// an error or a log line; [`Secret::expose`] is the one way to read it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }
    /// The secret itself: only for building the request that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl Drop for Secret {
    /// Best effort: overwrite the bytes we own so a core dump of a
    /// long-running agent is less likely to hold the password. (Copies
    /// made by reallocation or by the HTTP stack are out of reach.)
    fn drop(&mut self) {
        // SAFETY: writing zero bytes keeps the String valid UTF-8.
        let bytes = unsafe { self.0.as_bytes_mut() };
        for b in bytes.iter_mut() {
            // volatile so the compiler does not drop the "dead" store
            unsafe { std::ptr::write_volatile(b, 0) };
        }
    }
}

/// Which endpoint of the catalog to use (`interface` / `endpoint_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Interface {
    #[default]
    Public,
    Internal,
    Admin,
}

impl Interface {
    pub fn as_str(self) -> &'static str {
        match self {
            Interface::Public => "public",
            Interface::Internal => "internal",
            Interface::Admin => "admin",
        }
    }
}

impl fmt::Display for Interface {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Interface {
    type Err = Error;
    /// `public`, `internal`, `admin`, and the Keystone v2 spellings
    /// `publicURL`, `internalURL`, `adminURL` (NovaEvacuate's
    /// `endpoint_type` and old openrc files still use them).
    fn from_str(s: &str) -> Result<Self> {
        let l = s.trim().to_ascii_lowercase();
        match l.strip_suffix("url").unwrap_or(&l) {
            "public" => Ok(Interface::Public),
            "internal" => Ok(Interface::Internal),
            "admin" => Ok(Interface::Admin),
            _ => Err(Error::config(format!(
                "invalid interface {s:?} (expected public, internal or admin, optionally with the URL suffix)"
            ))),
        }
    }
}

/// Keystone v3 authentication method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthType {
    Password,
    ApplicationCredential,
}

impl FromStr for AuthType {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "password" | "v3password" => Ok(AuthType::Password),
            "v3applicationcredential" | "applicationcredential" | "application_credential" => {
                Ok(AuthType::ApplicationCredential)
            }
            _ => Err(Error::config(format!(
                "unsupported auth_type {s:?} (supported: password, v3applicationcredential)"
            ))),
        }
    }
}

/// Connection and credential parameters for one cloud.
///
/// `Debug` is safe to log: secrets are [`Secret`]s.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CloudConfig {
    /// Keystone URL, with or without the `/v3` suffix.
    pub auth_url: Option<String>,
    /// None: application credentials when an application credential is
    /// given, else password.
    pub auth_type: Option<AuthType>,
    pub username: Option<String>,
    pub user_id: Option<String>,
    pub password: Option<Secret>,
    /// `tenant_name` / `OS_TENANT_NAME` are aliases mapped here.
    pub project_name: Option<String>,
    pub project_id: Option<String>,
    pub user_domain_name: Option<String>,
    pub user_domain_id: Option<String>,
    pub project_domain_name: Option<String>,
    pub project_domain_id: Option<String>,
    /// Fills a missing user/project domain (`OS_DOMAIN_NAME`,
    /// `OS_DEFAULT_DOMAIN`, NovaEvacuate's `domain`). When nothing names a
    /// domain, Keystone's `default` domain is used, like the clients do.
    pub default_domain_name: Option<String>,
    pub default_domain_id: Option<String>,
    pub application_credential_id: Option<String>,
    pub application_credential_name: Option<String>,
    pub application_credential_secret: Option<Secret>,
    pub region_name: Option<String>,
    pub interface: Option<Interface>,
    /// PEM bundle to trust instead of the system store.
    pub cacert: Option<PathBuf>,
    /// Do not verify the server certificate (`verify: false`, `OS_INSECURE`).
    pub insecure: Option<bool>,
    pub connect_timeout: Option<Duration>,
    pub read_timeout: Option<Duration>,
}

fn parse_bool(name: &str, v: &str) -> Result<bool> {
    match v.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" | "y" | "t" => Ok(true),
        "0" | "false" | "no" | "off" | "n" | "f" | "" => Ok(false),
        _ => Err(Error::config(format!(
            "{name}: expected a boolean, got {v:?}"
        ))),
    }
}

/// Standard clouds.yaml / secure.yaml directories, in the clients' order.
fn config_dirs(lookup: &dyn Fn(&str) -> Option<String>) -> Vec<PathBuf> {
    let mut dirs = vec![PathBuf::from(".")];
    if let Some(home) = nonempty(lookup("HOME")) {
        dirs.push(Path::new(&home).join(".config/openstack"));
    }
    dirs.push(PathBuf::from("/etc/openstack"));
    dirs
}

fn nonempty(v: Option<String>) -> Option<String> {
    v.filter(|s| !s.trim().is_empty())
}

fn read_yaml(path: &Path) -> Result<Value> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::io(format!("reading {}", path.display()), e))?;
    serde_norway::from_str(&text)
        .map_err(|e| Error::config(format!("{}: invalid YAML: {e}", path.display())))
}

/// Recursive merge, `over` wins (secure.yaml over clouds.yaml).
fn deep_merge(base: &mut Value, over: Value) {
    match (base, over) {
        (Value::Mapping(b), Value::Mapping(o)) => {
            for (k, v) in o {
                match b.get_mut(&k) {
                    Some(slot) => deep_merge(slot, v),
                    None => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (slot, v) => *slot = v,
    }
}

/// Scalar as text: clouds.yaml writers put numbers (project ids) and
/// booleans unquoted.
fn scalar(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
    .filter(|s| !s.trim().is_empty())
}

fn get<'a>(m: &'a Mapping, key: &str) -> Option<&'a Value> {
    m.get(Value::String(key.to_string()))
}

impl CloudConfig {
    /// Read the usual `OS_*` variables through `lookup` (pass
    /// `|k| std::env::var(k).ok()` in production). Empty values count as
    /// unset. `OS_CLOUD` is not handled here: see [`CloudConfig::load`].
    pub fn from_env(lookup: impl Fn(&str) -> Option<String>) -> Result<CloudConfig> {
        let get = |k: &str| nonempty(lookup(k));
        let interface = match get("OS_INTERFACE").or_else(|| get("OS_ENDPOINT_TYPE")) {
            Some(i) => Some(i.parse()?),
            None => None,
        };
        let auth_type = match get("OS_AUTH_TYPE") {
            Some(t) => Some(t.parse()?),
            None => None,
        };
        let insecure = match get("OS_INSECURE") {
            Some(v) => Some(parse_bool("OS_INSECURE", &v)?),
            None => None,
        };
        Ok(CloudConfig {
            auth_url: get("OS_AUTH_URL"),
            auth_type,
            username: get("OS_USERNAME"),
            user_id: get("OS_USER_ID"),
            password: get("OS_PASSWORD").map(Secret::new),
            project_name: get("OS_PROJECT_NAME").or_else(|| get("OS_TENANT_NAME")),
            project_id: get("OS_PROJECT_ID").or_else(|| get("OS_TENANT_ID")),
            user_domain_name: get("OS_USER_DOMAIN_NAME"),
            user_domain_id: get("OS_USER_DOMAIN_ID"),
            project_domain_name: get("OS_PROJECT_DOMAIN_NAME"),
            project_domain_id: get("OS_PROJECT_DOMAIN_ID"),
            default_domain_name: get("OS_DOMAIN_NAME"),
            // OSC's OS_DEFAULT_DOMAIN is an id ("default").
            default_domain_id: get("OS_DOMAIN_ID").or_else(|| get("OS_DEFAULT_DOMAIN")),
            application_credential_id: get("OS_APPLICATION_CREDENTIAL_ID"),
            application_credential_name: get("OS_APPLICATION_CREDENTIAL_NAME"),
            application_credential_secret: get("OS_APPLICATION_CREDENTIAL_SECRET").map(Secret::new),
            region_name: get("OS_REGION_NAME"),
            interface,
            cacert: get("OS_CACERT").map(PathBuf::from),
            insecure,
            connect_timeout: None,
            read_timeout: None,
        })
    }

    /// What the OpenStack clients do: `OS_CLOUD` selects a clouds.yaml
    /// entry and the other `OS_*` variables override it.
    pub fn load(lookup: impl Fn(&str) -> Option<String>) -> Result<CloudConfig> {
        let env = Self::from_env(&lookup)?;
        match nonempty(lookup("OS_CLOUD")) {
            Some(cloud) => Ok(Self::from_clouds_yaml_with(&cloud, None, &lookup)?.overlay(env)),
            None => Ok(env),
        }
    }

    /// Load cloud `cloud` from clouds.yaml, merged with secure.yaml, using
    /// the process environment for the search path.
    pub fn from_clouds_yaml(cloud: &str, explicit_file: Option<&Path>) -> Result<CloudConfig> {
        Self::from_clouds_yaml_with(cloud, explicit_file, |k| std::env::var(k).ok())
    }

    /// [`from_clouds_yaml`](Self::from_clouds_yaml) with an explicit
    /// environment. Search order: `explicit_file`, else
    /// `OS_CLIENT_CONFIG_FILE`, `./clouds.yaml`,
    /// `$HOME/.config/openstack/clouds.yaml`, `/etc/openstack/clouds.yaml`
    /// (first existing file; `.yml` accepted too). secure.yaml:
    /// `OS_CLIENT_SECURE_FILE`, else next to the clouds.yaml used, else the
    /// same directories.
    pub fn from_clouds_yaml_with(
        cloud: &str,
        explicit_file: Option<&Path>,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<CloudConfig> {
        let dirs = config_dirs(&lookup);
        let file = match explicit_file {
            Some(f) => f.to_path_buf(),
            None => {
                let mut cands: Vec<PathBuf> = nonempty(lookup("OS_CLIENT_CONFIG_FILE"))
                    .map(PathBuf::from)
                    .into_iter()
                    .collect();
                for d in &dirs {
                    cands.push(d.join("clouds.yaml"));
                    cands.push(d.join("clouds.yml"));
                }
                match cands.iter().find(|p| p.is_file()) {
                    Some(f) => f.clone(),
                    None => {
                        let searched: Vec<String> =
                            cands.iter().map(|p| p.display().to_string()).collect();
                        return Err(Error::config(format!(
                            "cloud {cloud:?} requested but no clouds.yaml found (searched {})",
                            searched.join(", ")
                        )));
                    }
                }
            }
        };
        let clouds = read_yaml(&file)?;

        let mut secure_cands: Vec<PathBuf> = nonempty(lookup("OS_CLIENT_SECURE_FILE"))
            .map(PathBuf::from)
            .into_iter()
            .collect();
        if let Some(dir) = file.parent() {
            let dir = if dir.as_os_str().is_empty() {
                Path::new(".")
            } else {
                dir
            };
            secure_cands.push(dir.join("secure.yaml"));
        }
        for d in &dirs {
            secure_cands.push(d.join("secure.yaml"));
            secure_cands.push(d.join("secure.yml"));
        }
        let secure = match secure_cands.iter().find(|p| p.is_file()) {
            Some(p) => Some(read_yaml(p)?),
            None => None,
        };
        Self::from_clouds_value(cloud, clouds, secure, &file.display().to_string())
    }

    /// Parse clouds.yaml (and secure.yaml) text; `cloud` selects the entry.
    pub fn from_clouds_yaml_str(
        cloud: &str,
        clouds_yaml: &str,
        secure_yaml: Option<&str>,
    ) -> Result<CloudConfig> {
        let parse = |name: &str, t: &str| {
            serde_norway::from_str::<Value>(t)
                .map_err(|e| Error::config(format!("{name}: invalid YAML: {e}")))
        };
        let clouds = parse("clouds.yaml", clouds_yaml)?;
        let secure = secure_yaml.map(|s| parse("secure.yaml", s)).transpose()?;
        Self::from_clouds_value(cloud, clouds, secure, "clouds.yaml")
    }

    fn from_clouds_value(
        cloud: &str,
        clouds: Value,
        secure: Option<Value>,
        source: &str,
    ) -> Result<CloudConfig> {
        let entry = |doc: &Value| -> Option<Value> {
            doc.as_mapping()
                .and_then(|m| get(m, "clouds"))
                .and_then(Value::as_mapping)
                .and_then(|m| get(m, cloud))
                .cloned()
        };
        let mut c = match entry(&clouds) {
            Some(c) => c,
            None => {
                let names: Vec<String> = clouds
                    .as_mapping()
                    .and_then(|m| get(m, "clouds"))
                    .and_then(Value::as_mapping)
                    .map(|m| {
                        m.keys()
                            .filter_map(|k| k.as_str().map(str::to_string))
                            .collect()
                    })
                    .unwrap_or_default();
                return Err(Error::config(format!(
                    "cloud {cloud:?} not found in {source} (clouds defined: {})",
                    if names.is_empty() {
                        "none".to_string()
                    } else {
                        names.join(", ")
                    }
                )));
            }
        };
        if let Some(s) = secure.as_ref().and_then(entry) {
            deep_merge(&mut c, s);
        }
        let m = c
            .as_mapping()
            .ok_or_else(|| Error::config(format!("{source}: cloud {cloud:?} is not a mapping")))?;
        let empty = Mapping::new();
        let auth = get(m, "auth").and_then(Value::as_mapping).unwrap_or(&empty);
        let a = |k: &str| scalar(get(auth, k));
        let t = |k: &str| scalar(get(m, k));

        let auth_type = t("auth_type").map(|s| s.parse()).transpose()?;
        let interface = t("interface")
            .or_else(|| t("endpoint_type"))
            .map(|s| s.parse())
            .transpose()?;
        // `verify: false` disables verification; `insecure: true` is the
        // older spelling. A string `verify` is a CA path in some tools.
        let mut insecure = t("insecure")
            .map(|v| parse_bool("insecure", &v))
            .transpose()?;
        let mut cacert = t("cacert").map(PathBuf::from);
        match get(m, "verify") {
            Some(Value::Bool(v)) => insecure = Some(!v),
            Some(Value::String(s)) => match parse_bool("verify", s) {
                Ok(v) => insecure = Some(!v),
                Err(_) => cacert = cacert.or_else(|| Some(PathBuf::from(s))),
            },
            _ => {}
        }
        let region_name = t("region_name").or_else(|| match get(m, "regions") {
            Some(Value::Sequence(rs)) => rs.first().and_then(|r| match r {
                Value::Mapping(rm) => scalar(get(rm, "name")),
                other => scalar(Some(other)),
            }),
            _ => None,
        });
        let read_timeout = match get(m, "api_timeout") {
            Some(Value::Number(n)) => n
                .as_f64()
                .filter(|s| *s > 0.0 && s.is_finite())
                .map(Duration::from_secs_f64),
            Some(Value::String(s)) => s
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|s| *s > 0.0 && s.is_finite())
                .map(Duration::from_secs_f64),
            _ => None,
        };
        Ok(CloudConfig {
            auth_url: a("auth_url"),
            auth_type,
            username: a("username"),
            user_id: a("user_id"),
            password: a("password").map(Secret::new),
            project_name: a("project_name").or_else(|| a("tenant_name")),
            project_id: a("project_id").or_else(|| a("tenant_id")),
            user_domain_name: a("user_domain_name"),
            user_domain_id: a("user_domain_id"),
            project_domain_name: a("project_domain_name"),
            project_domain_id: a("project_domain_id"),
            default_domain_name: a("domain_name").or_else(|| a("default_domain_name")),
            default_domain_id: a("domain_id").or_else(|| a("default_domain_id")),
            application_credential_id: a("application_credential_id"),
            application_credential_name: a("application_credential_name"),
            application_credential_secret: a("application_credential_secret").map(Secret::new),
            region_name,
            interface,
            cacert,
            insecure,
            connect_timeout: None,
            read_timeout,
        })
    }

    /// Layer `higher` over `self`: every field set in `higher` wins.
    /// Name/id pairs move together (user, project, each domain,
    /// application credential): a higher layer naming the project by name
    /// must not be overridden by a lower layer's project id, which the
    /// token request would prefer.
    pub fn overlay(self, higher: CloudConfig) -> CloudConfig {
        fn pair<A, B>(
            lo: (Option<A>, Option<B>),
            hi: (Option<A>, Option<B>),
        ) -> (Option<A>, Option<B>) {
            if hi.0.is_some() || hi.1.is_some() {
                hi
            } else {
                lo
            }
        }
        let (username, user_id) = pair(
            (self.username, self.user_id),
            (higher.username, higher.user_id),
        );
        let (project_name, project_id) = pair(
            (self.project_name, self.project_id),
            (higher.project_name, higher.project_id),
        );
        let (user_domain_name, user_domain_id) = pair(
            (self.user_domain_name, self.user_domain_id),
            (higher.user_domain_name, higher.user_domain_id),
        );
        let (project_domain_name, project_domain_id) = pair(
            (self.project_domain_name, self.project_domain_id),
            (higher.project_domain_name, higher.project_domain_id),
        );
        let (default_domain_name, default_domain_id) = pair(
            (self.default_domain_name, self.default_domain_id),
            (higher.default_domain_name, higher.default_domain_id),
        );
        let (application_credential_id, application_credential_name) = pair(
            (
                self.application_credential_id,
                self.application_credential_name,
            ),
            (
                higher.application_credential_id,
                higher.application_credential_name,
            ),
        );
        CloudConfig {
            auth_url: higher.auth_url.or(self.auth_url),
            auth_type: higher.auth_type.or(self.auth_type),
            username,
            user_id,
            password: higher.password.or(self.password),
            project_name,
            project_id,
            user_domain_name,
            user_domain_id,
            project_domain_name,
            project_domain_id,
            default_domain_name,
            default_domain_id,
            application_credential_id,
            application_credential_name,
            application_credential_secret: higher
                .application_credential_secret
                .or(self.application_credential_secret),
            region_name: higher.region_name.or(self.region_name),
            interface: higher.interface.or(self.interface),
            cacert: higher.cacert.or(self.cacert),
            insecure: higher.insecure.or(self.insecure),
            connect_timeout: higher.connect_timeout.or(self.connect_timeout),
            read_timeout: higher.read_timeout.or(self.read_timeout),
        }
    }

    /// The authentication method these parameters call for.
    pub fn effective_auth_type(&self) -> AuthType {
        // A stray secret next to a full password configuration (layered
        // sources) does not switch methods; an id or name does.
        self.auth_type.unwrap_or(
            if self.application_credential_id.is_some()
                || self.application_credential_name.is_some()
                || (self.application_credential_secret.is_some() && self.password.is_none())
            {
                AuthType::ApplicationCredential
            } else {
                AuthType::Password
            },
        )
    }

    pub fn effective_interface(&self) -> Interface {
        self.interface.unwrap_or_default()
    }
    pub fn effective_connect_timeout(&self) -> Duration {
        self.connect_timeout.unwrap_or(DEFAULT_CONNECT_TIMEOUT)
    }
    pub fn effective_read_timeout(&self) -> Duration {
        self.read_timeout.unwrap_or(DEFAULT_READ_TIMEOUT)
    }

    /// Check that a token can be requested; `Error::Config` names every
    /// missing parameter (with its `OS_*` variable) at once, so the
    /// operator fixes the configuration in one go.
    pub fn validate(&self) -> Result<()> {
        let mut missing: BTreeSet<&str> = BTreeSet::new();
        let mut problems = Vec::new();
        match &self.auth_url {
            None => {
                missing.insert("auth_url (OS_AUTH_URL)");
            }
            Some(u) if !(u.starts_with("http://") || u.starts_with("https://")) => {
                problems.push(format!("auth_url {u:?} is not an http:// or https:// URL"));
            }
            Some(_) => {}
        }
        match self.effective_auth_type() {
            AuthType::Password => {
                if self.username.is_none() && self.user_id.is_none() {
                    missing.insert("username or user_id (OS_USERNAME / OS_USER_ID)");
                }
                if self.password.is_none() {
                    missing.insert("password (OS_PASSWORD)");
                }
                // Nova's admin API needs a project-scoped token.
                if self.project_name.is_none() && self.project_id.is_none() {
                    missing.insert("project_name or project_id (OS_PROJECT_NAME / OS_PROJECT_ID)");
                }
            }
            AuthType::ApplicationCredential => {
                if self.application_credential_secret.is_none() {
                    missing
                        .insert("application_credential_secret (OS_APPLICATION_CREDENTIAL_SECRET)");
                }
                if self.application_credential_id.is_none() {
                    if self.application_credential_name.is_none() {
                        missing.insert(
                            "application_credential_id or application_credential_name (OS_APPLICATION_CREDENTIAL_ID / _NAME)",
                        );
                    } else if self.username.is_none() && self.user_id.is_none() {
                        // A credential name is only unique per user.
                        missing
                            .insert("username or user_id to go with application_credential_name");
                    }
                }
            }
        }
        if let Some(p) = &self.cacert {
            if self.insecure != Some(true) && !p.is_file() {
                problems.push(format!("cacert {} is not a readable file", p.display()));
            }
        }
        if missing.is_empty() && problems.is_empty() {
            return Ok(());
        }
        let mut msg = String::from("incomplete OpenStack configuration");
        if !missing.is_empty() {
            msg.push_str(": missing ");
            msg.push_str(&missing.into_iter().collect::<Vec<_>>().join(", "));
        }
        for p in problems {
            msg.push_str("; ");
            msg.push_str(&p);
        }
        Err(Error::Config(msg))
    }

    /// Identity of the credentials (not the secrets), for the token cache
    /// key: same user, project and Keystone -> same token.
    pub(crate) fn identity_key(&self) -> String {
        let f = |o: &Option<String>| o.clone().unwrap_or_default();
        [
            f(&self.auth_url),
            format!("{:?}", self.effective_auth_type()),
            f(&self.username),
            f(&self.user_id),
            f(&self.project_name),
            f(&self.project_id),
            f(&self.user_domain_name),
            f(&self.user_domain_id),
            f(&self.project_domain_name),
            f(&self.project_domain_id),
            f(&self.default_domain_name),
            f(&self.default_domain_id),
            f(&self.application_credential_id),
            f(&self.application_credential_name),
        ]
        .join("\u{1f}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let m: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| m.get(k).cloned()
    }

    #[test]
    fn secret_is_redacted() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s}"), "<redacted>");
        assert_eq!(format!("{s:?}"), "<redacted>");
        assert_eq!(s.expose(), "hunter2");
        let c = CloudConfig {
            password: Some(s),
            ..Default::default()
        };
        assert!(!format!("{c:?}").contains("hunter2"));
    }

    #[test]
    fn interface_aliases() {
        for (s, i) in [
            ("public", Interface::Public),
            ("publicURL", Interface::Public),
            ("internal", Interface::Internal),
            ("internalURL", Interface::Internal),
            ("admin", Interface::Admin),
            ("adminURL", Interface::Admin),
            (" ADMIN ", Interface::Admin),
        ] {
            assert_eq!(s.parse::<Interface>().unwrap(), i, "{s}");
        }
        assert!("private".parse::<Interface>().is_err());
        assert!("URL".parse::<Interface>().is_err());
    }

    #[test]
    fn os_env_password() {
        let c = CloudConfig::from_env(env(&[
            ("OS_AUTH_URL", "http://keystone:5000/v3"),
            ("OS_USERNAME", "admin"),
            ("OS_PASSWORD", "s3cret"),
            ("OS_TENANT_NAME", "admin"),
            ("OS_USER_DOMAIN_NAME", "Default"),
            ("OS_PROJECT_DOMAIN_ID", "default"),
            ("OS_REGION_NAME", "RegionOne"),
            ("OS_ENDPOINT_TYPE", "internalURL"),
            ("OS_INSECURE", "yes"),
            ("OS_CACERT", "/etc/ca.pem"),
            ("OS_USER_ID", ""),
        ]))
        .unwrap();
        assert_eq!(c.auth_url.as_deref(), Some("http://keystone:5000/v3"));
        assert_eq!(c.project_name.as_deref(), Some("admin"));
        assert_eq!(c.user_id, None, "empty counts as unset");
        assert_eq!(c.password.as_ref().unwrap().expose(), "s3cret");
        assert_eq!(c.project_domain_id.as_deref(), Some("default"));
        assert_eq!(c.effective_interface(), Interface::Internal);
        assert_eq!(c.insecure, Some(true));
        assert_eq!(c.cacert, Some(PathBuf::from("/etc/ca.pem")));
        assert_eq!(c.effective_auth_type(), AuthType::Password);
        assert_eq!(c.effective_connect_timeout(), Duration::from_secs(10));
        assert_eq!(c.effective_read_timeout(), Duration::from_secs(30));
        // cacert does not exist but insecure is set: valid.
        c.validate().unwrap();
    }

    #[test]
    fn os_env_interface_wins_over_endpoint_type_and_bad_values_fail() {
        let c = CloudConfig::from_env(env(&[
            ("OS_INTERFACE", "admin"),
            ("OS_ENDPOINT_TYPE", "publicURL"),
        ]))
        .unwrap();
        assert_eq!(c.interface, Some(Interface::Admin));
        let e = CloudConfig::from_env(env(&[("OS_INSECURE", "maybe")])).unwrap_err();
        assert!(e.to_string().contains("OS_INSECURE"), "{e}");
        assert!(CloudConfig::from_env(env(&[("OS_INTERFACE", "bogus")])).is_err());
    }

    #[test]
    fn os_env_application_credential() {
        let c = CloudConfig::from_env(env(&[
            ("OS_AUTH_URL", "https://keystone/"),
            ("OS_APPLICATION_CREDENTIAL_ID", "abc"),
            ("OS_APPLICATION_CREDENTIAL_SECRET", "topsecret"),
        ]))
        .unwrap();
        assert_eq!(c.effective_auth_type(), AuthType::ApplicationCredential);
        c.validate().unwrap();
        assert!(!format!("{c:?}").contains("topsecret"));
    }

    #[test]
    fn validate_names_every_missing_parameter() {
        let e = CloudConfig::default().validate().unwrap_err();
        let m = e.to_string();
        assert!(matches!(e, Error::Config(_)));
        for want in [
            "auth_url",
            "OS_AUTH_URL",
            "username",
            "password",
            "project_name",
        ] {
            assert!(m.contains(want), "{m}");
        }
        let c = CloudConfig {
            auth_url: Some("keystone:5000".into()),
            auth_type: Some(AuthType::ApplicationCredential),
            application_credential_name: Some("ha".into()),
            ..Default::default()
        };
        let m = c.validate().unwrap_err().to_string();
        assert!(m.contains("application_credential_secret"), "{m}");
        assert!(m.contains("username or user_id"), "{m}");
        assert!(m.contains("not an http"), "{m}");
    }

    #[test]
    fn overlay_higher_wins_and_pairs_move_together() {
        let low = CloudConfig {
            auth_url: Some("http://low/v3".into()),
            project_id: Some("p-low".into()),
            username: Some("low".into()),
            region_name: Some("R1".into()),
            insecure: Some(true),
            ..Default::default()
        };
        let high = CloudConfig {
            project_name: Some("high-project".into()),
            region_name: Some("R2".into()),
            password: Some(Secret::new("pw")),
            insecure: Some(false),
            ..Default::default()
        };
        let c = low.overlay(high);
        assert_eq!(c.auth_url.as_deref(), Some("http://low/v3"));
        assert_eq!(c.project_name.as_deref(), Some("high-project"));
        assert_eq!(
            c.project_id, None,
            "the lower layer's project id must not override the name"
        );
        assert_eq!(c.username.as_deref(), Some("low"));
        assert_eq!(c.region_name.as_deref(), Some("R2"));
        assert_eq!(c.insecure, Some(false));
        assert_eq!(c.password.unwrap().expose(), "pw");
    }

    const CLOUDS: &str = r#"
clouds:
  overcloud:
    auth:
      auth_url: http://192.0.2.1:5000
      username: admin
      project_name: admin
      user_domain_name: Default
      project_domain_name: Default
      tenant_id: 12345
    region_name: regionOne
    interface: internal
    verify: false
    api_timeout: 45
  appcred:
    auth_type: v3applicationcredential
    auth:
      auth_url: https://keystone.example.com/v3
      application_credential_id: 21dced0fd20347869b93710d2b98aae0
    regions:
      - name: RegionTwo
      - RegionThree
    cacert: /etc/pki/ca.pem
"#;
    const SECURE: &str = r#"
clouds:
  overcloud:
    auth:
      password: from-secure
  appcred:
    auth:
      application_credential_secret: app-secret
"#;

    #[test]
    fn clouds_yaml_password_with_secure_merge() {
        let c = CloudConfig::from_clouds_yaml_str("overcloud", CLOUDS, Some(SECURE)).unwrap();
        assert_eq!(c.auth_url.as_deref(), Some("http://192.0.2.1:5000"));
        assert_eq!(c.username.as_deref(), Some("admin"));
        assert_eq!(c.password.as_ref().unwrap().expose(), "from-secure");
        assert_eq!(c.project_name.as_deref(), Some("admin"));
        assert_eq!(
            c.project_id.as_deref(),
            Some("12345"),
            "unquoted numbers are ids too"
        );
        assert_eq!(c.user_domain_name.as_deref(), Some("Default"));
        assert_eq!(c.region_name.as_deref(), Some("regionOne"));
        assert_eq!(c.interface, Some(Interface::Internal));
        assert_eq!(c.insecure, Some(true));
        assert_eq!(c.read_timeout, Some(Duration::from_secs(45)));
        c.validate().unwrap();
    }

    #[test]
    fn clouds_yaml_application_credential() {
        let c = CloudConfig::from_clouds_yaml_str("appcred", CLOUDS, Some(SECURE)).unwrap();
        assert_eq!(c.auth_type, Some(AuthType::ApplicationCredential));
        assert_eq!(
            c.application_credential_id.as_deref(),
            Some("21dced0fd20347869b93710d2b98aae0")
        );
        assert_eq!(
            c.application_credential_secret.as_ref().unwrap().expose(),
            "app-secret"
        );
        assert_eq!(c.region_name.as_deref(), Some("RegionTwo"));
        assert_eq!(c.cacert, Some(PathBuf::from("/etc/pki/ca.pem")));
        assert_eq!(c.insecure, None);
        assert!(!format!("{c:?}").contains("app-secret"));
    }

    #[test]
    fn clouds_yaml_unknown_cloud_lists_known_ones() {
        let e = CloudConfig::from_clouds_yaml_str("nope", CLOUDS, None)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("nope") && e.contains("overcloud") && e.contains("appcred"),
            "{e}"
        );
        let e = CloudConfig::from_clouds_yaml_str("x", "clouds: {x: {auth_type: token}}", None)
            .unwrap_err();
        assert!(e.to_string().contains("auth_type"), "{e}");
    }

    #[test]
    fn clouds_yaml_search_path_and_os_cloud() {
        let dir = std::env::temp_dir().join(format!(
            "iha-clouds-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let cfgdir = dir.join(".config/openstack");
        std::fs::create_dir_all(&cfgdir).unwrap();
        std::fs::write(cfgdir.join("clouds.yaml"), CLOUDS).unwrap();
        std::fs::write(cfgdir.join("secure.yaml"), SECURE).unwrap();
        let home = dir.to_str().unwrap().to_string();
        let c = CloudConfig::load(env(&[
            ("HOME", &home),
            ("OS_CLOUD", "overcloud"),
            ("OS_REGION_NAME", "fromenv"),
        ]))
        .unwrap();
        assert_eq!(c.password.as_ref().unwrap().expose(), "from-secure");
        assert_eq!(
            c.region_name.as_deref(),
            Some("fromenv"),
            "environment overrides clouds.yaml"
        );

        // OS_CLIENT_CONFIG_FILE comes first; its directory's secure.yaml too.
        let other = dir.join("other");
        std::fs::create_dir_all(&other).unwrap();
        std::fs::write(
            other.join("mine.yaml"),
            "clouds: {x: {auth: {auth_url: 'http://x/', password: plain}}}",
        )
        .unwrap();
        std::fs::write(
            other.join("secure.yaml"),
            "clouds: {x: {auth: {password: better}}}",
        )
        .unwrap();
        let f = other.join("mine.yaml");
        let c = CloudConfig::from_clouds_yaml_with(
            "x",
            None,
            env(&[
                ("HOME", &home),
                ("OS_CLIENT_CONFIG_FILE", f.to_str().unwrap()),
            ]),
        )
        .unwrap();
        assert_eq!(c.password.as_ref().unwrap().expose(), "better");
        let c = CloudConfig::from_clouds_yaml_with(
            "overcloud",
            Some(&cfgdir.join("clouds.yaml")),
            env(&[]),
        )
        .unwrap();
        assert_eq!(c.password.as_ref().unwrap().expose(), "from-secure");

        let e =
            CloudConfig::from_clouds_yaml_with("x", None, env(&[("HOME", "/nonexistent-home")]));
        // /etc/openstack/clouds.yaml may exist on a developer machine.
        if !Path::new("/etc/openstack/clouds.yaml").exists() && !Path::new("clouds.yaml").exists() {
            assert!(e.unwrap_err().to_string().contains("no clouds.yaml"));
        }
        std::fs::remove_dir_all(&dir).ok();
    }
}

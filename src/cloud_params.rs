//! The OpenStack connection parameters every agent shares, with the names
//! and options of the reference agents (fence_compute, NovaEvacuate) plus
//! clouds.yaml, application credentials, a CA bundle and timeouts, and
//! their conversion to a `CloudConfig`.
//!
//! Precedence: explicit agent parameters > the clouds.yaml entry named by
//! `cloud` > (only when the agent has neither) the `OS_*` environment and
//! `OS_CLOUD`, which is what an operator running an agent by hand expects.

use std::path::PathBuf;
use std::process::{Command, Stdio};

use crate::error::{Error, Result};
use crate::openstack::{CloudConfig, Secret};
use crate::params::{Kind, Param, Values};

pub const AUTH_URL: Param = Param {
    short: Some('k'),
    long: Some("auth-url"),
    metavar: Some("[url]"),
    default: Some(""),
    ..Param::new("auth_url", "Keystone Admin Auth URL")
};
pub const ENDPOINT_TYPE: Param = Param {
    short: Some('e'),
    long: Some("endpoint-type"),
    metavar: Some("[endpoint]"),
    default: Some("internalURL"),
    aliases: &["interface"],
    longdesc: "Nova endpoint type in the Keystone catalog: publicURL, internalURL, adminURL (or public, internal, admin).",
    ..Param::new("endpoint_type", "Nova Endpoint type")
};
pub const USERNAME: Param = Param {
    short: Some('l'),
    long: Some("username"),
    metavar: Some("[name]"),
    old_name: Some("login"),
    ..Param::new("username", "Login name")
};
pub const PASSWORD: Param = Param {
    short: Some('p'),
    long: Some("password"),
    metavar: Some("[password]"),
    old_name: Some("passwd"),
    kind: Kind::Secret,
    longdesc: "Keystone password. Prefer password_script or a clouds.yaml entry: parameters are stored in the CIB.",
    ..Param::new("password", "Login password or passphrase")
};
pub const PASSWORD_SCRIPT: Param = Param {
    short: Some('S'),
    long: Some("password-script"),
    metavar: Some("[script]"),
    old_name: Some("passwd_script"),
    longdesc: "Command run with /bin/sh whose first line of output is the password, so the password stays out of the CIB.",
    ..Param::new("password_script", "Script to run to retrieve password")
};
pub const REGION_NAME: Param = Param {
    long: Some("region-name"),
    metavar: Some("[region]"),
    default: Some(""),
    ..Param::new("region_name", "Region Name")
};
pub const TENANT_NAME: Param = Param {
    short: Some('t'),
    long: Some("tenant-name"),
    metavar: Some("[name]"),
    default: Some(""),
    aliases: &["project_name"],
    ..Param::new("tenant_name", "Keystone Admin Tenant or v3 Project")
};
pub const INSECURE: Param = Param {
    long: Some("insecure"),
    kind: Kind::Bool,
    longdesc: "Do not verify the TLS certificate of Keystone and Nova. Only for labs.",
    ..Param::new("insecure", "Allow Insecure TLS Requests")
};
pub const PROJECT_DOMAIN: Param = Param {
    short: Some('P'),
    long: Some("project-domain"),
    metavar: Some("[name]"),
    old_name: Some("project-domain"),
    default: Some("Default"),
    aliases: &["project_domain_name"],
    ..Param::new("project_domain", "Keystone v3 Project Domain")
};
pub const USER_DOMAIN: Param = Param {
    short: Some('u'),
    long: Some("user-domain"),
    metavar: Some("[name]"),
    old_name: Some("user-domain"),
    default: Some("Default"),
    aliases: &["user_domain_name"],
    ..Param::new("user_domain", "Keystone v3 User Domain")
};
pub const DOMAIN: Param = Param {
    short: Some('d'),
    long: Some("domain"),
    metavar: Some("[string]"),
    longdesc: "DNS domain in which hosts live, useful when the cluster uses short names and nova uses FQDN. Empty: Nova uses short names. Unset: found from Nova's host list (an ambiguous match is an error).",
    ..Param::new("domain", "DNS domain in which hosts live")
};
pub const COMPUTE_DOMAIN: Param = Param {
    long: Some("compute-domain"),
    metavar: Some("[string]"),
    old_name: Some("compute-domain"),
    ..Param::new("compute_domain", "Replaced by domain")
};

// Beyond the reference.
pub const CLOUD: Param = Param {
    long: Some("cloud"),
    metavar: Some("[name]"),
    longdesc: "Entry of clouds.yaml to read credentials from (searched in OS_CLIENT_CONFIG_FILE, ./, ~/.config/openstack/, /etc/openstack/; secure.yaml merged). Explicit parameters override it.",
    ..Param::new("cloud", "clouds.yaml cloud name")
};
pub const CLOUDS_YAML: Param = Param {
    long: Some("clouds-yaml"),
    metavar: Some("[path]"),
    ..Param::new(
        "clouds_yaml",
        "Path of clouds.yaml (default: the usual search path)",
    )
};
pub const CACERT: Param = Param {
    long: Some("cacert"),
    metavar: Some("[path]"),
    ..Param::new(
        "cacert",
        "CA bundle (PEM) that signs the Keystone and Nova certificates",
    )
};
pub const USER_ID: Param = Param {
    long: Some("user-id"),
    metavar: Some("[id]"),
    ..Param::new(
        "user_id",
        "Keystone user id (instead of username and user_domain)",
    )
};
pub const PROJECT_ID: Param = Param {
    long: Some("project-id"),
    metavar: Some("[id]"),
    aliases: &["tenant_id"],
    ..Param::new(
        "project_id",
        "Keystone project id (instead of tenant_name and project_domain)",
    )
};
pub const APP_CRED_ID: Param = Param {
    long: Some("application-credential-id"),
    metavar: Some("[id]"),
    ..Param::new(
        "application_credential_id",
        "Keystone application credential id",
    )
};
pub const APP_CRED_NAME: Param = Param {
    long: Some("application-credential-name"),
    metavar: Some("[name]"),
    ..Param::new(
        "application_credential_name",
        "Keystone application credential name (with username)",
    )
};
pub const APP_CRED_SECRET: Param = Param {
    long: Some("application-credential-secret"),
    metavar: Some("[secret]"),
    kind: Kind::Secret,
    ..Param::new(
        "application_credential_secret",
        "Keystone application credential secret",
    )
};
pub const CONNECT_TIMEOUT: Param = Param {
    long: Some("connect-timeout"),
    metavar: Some("[seconds]"),
    kind: Kind::Seconds,
    default: Some("10"),
    ..Param::new(
        "connect_timeout",
        "Seconds to wait for a TCP/TLS connection to Keystone or Nova",
    )
};
pub const API_TIMEOUT: Param = Param {
    long: Some("api-timeout"),
    metavar: Some("[seconds]"),
    kind: Kind::Seconds,
    default: Some("30"),
    ..Param::new(
        "api_timeout",
        "Seconds to wait for one Keystone or Nova response",
    )
};

pub const TOKEN_CACHE: Param = Param {
    long: Some("token-cache"),
    kind: Kind::Bool,
    default: Some("true"),
    longdesc: "Reuse the Keystone token across runs of the agent from a root-only file under /run/instance-ha/tokens (IHA_TOKEN_CACHE_DIR). Keystone's password check dominates an agent run (measured on the lab: nova-compute-wait monitor 674 ms without, 44 ms with); a token rejected with 401 is dropped and renewed at once.",
    ..Param::new("token_cache", "Reuse the Keystone token between runs")
};

/// Where agents keep their Keystone tokens (root only).
pub fn token_cache_dir() -> std::path::PathBuf {
    std::env::var_os("IHA_TOKEN_CACHE_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::PathBuf::from("/run/instance-ha/tokens"))
}

/// A session for an agent: the configuration from its parameters, and the
/// token cache unless `token_cache=false`. The cache is only used where it
/// can be private (the session refuses a directory others can read).
pub fn session(v: &Values) -> Result<crate::openstack::Session> {
    let cfg = cloud_config(v, |k| std::env::var(k).ok())?;
    let s = crate::openstack::Session::new(cfg)?;
    let wanted = if v.table().iter().any(|p| p.name == "token_cache") {
        v.flag("token_cache")?
    } else {
        false
    };
    if wanted {
        let dir = token_cache_dir();
        if let Some(parent) = dir.parent() {
            let _ = std::fs::create_dir_all(parent);
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(parent, std::fs::Permissions::from_mode(0o700));
        }
        return Ok(s.with_token_cache(dir));
    }
    Ok(s)
}

/// Run the password script: first line of its stdout. Its stderr is not
/// captured into any message (it might echo the secret).
fn run_password_script(script: &str) -> Result<Secret> {
    let out = Command::new("/bin/sh")
        .arg("-c")
        .arg(script)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .map_err(|e| Error::config(format!("password_script: cannot run: {e}")))?;
    if !out.status.success() {
        return Err(Error::config(format!(
            "password_script exited with {}",
            out.status
        )));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let first = text.lines().next().unwrap_or("").trim_end().to_string();
    if first.is_empty() {
        return Err(Error::config("password_script printed no password"));
    }
    Ok(Secret::new(first))
}

/// Build the cloud configuration from an agent's parameters.
pub fn cloud_config(v: &Values, env: impl Fn(&str) -> Option<String>) -> Result<CloudConfig> {
    let has = |n: &str| v.table().iter().any(|p| p.name == n);
    let get = |n: &str| if has(n) { v.string(n) } else { None };
    let explicit = |n: &str| {
        if has(n) && v.is_set(n) {
            v.string(n)
        } else {
            None
        }
    };

    let password = match (get("password"), get("password_script")) {
        (Some(p), _) => Some(Secret::new(p)),
        (None, Some(script)) => Some(run_password_script(&script)?),
        (None, None) => None,
    };
    let mine = CloudConfig {
        auth_url: get("auth_url"),
        username: get("username"),
        user_id: get("user_id"),
        password,
        project_name: get("tenant_name"),
        project_id: get("project_id"),
        // Defaults ("Default") only matter for names; explicit ones always count.
        user_domain_name: get("user_domain"),
        project_domain_name: get("project_domain"),
        application_credential_id: get("application_credential_id"),
        application_credential_name: get("application_credential_name"),
        application_credential_secret: get("application_credential_secret").map(Secret::new),
        region_name: get("region_name"),
        interface: match get("endpoint_type") {
            Some(i) => Some(i.parse()?),
            None => None,
        },
        cacert: get("cacert").map(PathBuf::from),
        insecure: if has("insecure") && v.is_set("insecure") {
            Some(v.flag("insecure")?)
        } else {
            None
        },
        connect_timeout: if has("connect_timeout") {
            v.duration("connect_timeout")?
        } else {
            None
        },
        read_timeout: if has("api_timeout") {
            v.duration("api_timeout")?
        } else {
            None
        },
        ..CloudConfig::default()
    };

    let base = if let Some(cloud) = explicit("cloud") {
        let file = explicit("clouds_yaml").map(PathBuf::from);
        CloudConfig::from_clouds_yaml_with(&cloud, file.as_deref(), &env)?
    } else if mine.auth_url.is_none() {
        // Nothing configured on the agent: an operator's shell (OS_CLOUD, OS_*).
        CloudConfig::load(&env)?
    } else {
        CloudConfig::default()
    };
    // Table defaults (internalURL, Default domains) must not override what
    // clouds.yaml says: only explicitly given values win over the base.
    let mut cfg = base.clone().overlay(mine.clone());
    if base.interface.is_some() && !(has("endpoint_type") && v.is_set("endpoint_type")) {
        cfg.interface = base.interface;
    }
    // The same for domains, restored as name/id pairs (a clouds.yaml
    // `user_domain_id` must not be shadowed by the default name).
    if (base.user_domain_name.is_some() || base.user_domain_id.is_some())
        && explicit("user_domain").is_none()
    {
        cfg.user_domain_name = base.user_domain_name.clone();
        cfg.user_domain_id = base.user_domain_id.clone();
    }
    if (base.project_domain_name.is_some() || base.project_domain_id.is_some())
        && explicit("project_domain").is_none()
    {
        cfg.project_domain_name = base.project_domain_name.clone();
        cfg.project_domain_id = base.project_domain_id.clone();
    }
    cfg.validate()?;
    Ok(cfg)
}

/// The DNS-domain parameter: `domain`, or the deprecated `compute_domain`
/// (which the reference accepts and then drops by mistake).
pub fn dns_domain(v: &Values) -> Option<String> {
    let has = |n: &str| v.table().iter().any(|p| p.name == n);
    let explicit = |n: &str| {
        if has(n) && v.is_set(n) {
            Some(v.get(n).unwrap_or("").to_string())
        } else {
            None
        }
    };
    explicit("domain").or_else(|| explicit("compute_domain"))
}

//! Documentation generated from the agents' parameter tables, so the man
//! pages and `docs/parameters.md` cannot drift from what the agents accept
//! (ripgrep generates its man page from its flag table the same way).
//!
//! `cargo run --example gen-docs` writes the files returned by
//! [`generated`]; `tests/docs.rs` regenerates them in memory and fails when
//! the committed copies differ.
//!
//! Each parameter is marked as the reference agents' (present in the
//! metadata of the Python/shell agent this one replaces, so existing
//! `pcs` configurations keep validating) or ours (added here). The
//! reference lists below are the canonical names of those metadata
//! entries; `tests/docs.rs` checks the fence ones against the golden
//! metadata in `tests/data/`.

use crate::fence::{self, FenceAgent};
use crate::ocf::{self, ActionSpec, OcfAgent};
use crate::params::{Kind, Param};

/// fence-agents 4.12.1 `fence_compute -o metadata` (canonical names;
/// the deprecated spellings are the tables' `old_name`s).
pub const REFERENCE_FENCE_COMPUTE: &[&str] = &[
    "action",
    "auth_url",
    "endpoint_type",
    "password",
    "password_script",
    "plug",
    "region_name",
    "tenant_name",
    "username",
    "insecure",
    "project_domain",
    "user_domain",
    "domain",
    "instance_filtering",
    "no_shared_storage",
    "record_only",
    "compute_domain",
    "quiet",
    "verbose",
    "verbose_level",
    "debug_file",
    "version",
    "help",
    "plug_separator",
    "separator",
    "delay",
    "disable_timeout",
    "login_timeout",
    "power_timeout",
    "power_wait",
    "shell_timeout",
    "stonith_status_sleep",
    "retry_on",
];

/// fence-agents 4.12.1 `fence_evacuate -o metadata`.
pub const REFERENCE_FENCE_EVACUATE: &[&str] = &[
    "action",
    "auth_url",
    "endpoint_type",
    "password",
    "password_script",
    "plug",
    "region_name",
    "tenant_name",
    "username",
    "insecure",
    "project_domain",
    "user_domain",
    "domain",
    "instance_filtering",
    "no_shared_storage",
    "compute_domain",
    "quiet",
    "verbose",
    "verbose_level",
    "debug_file",
    "version",
    "help",
    "plug_separator",
    "separator",
    "delay",
    "disable_timeout",
    "login_timeout",
    "power_timeout",
    "power_wait",
    "shell_timeout",
    "stonith_status_sleep",
    "retry_on",
];

/// openstack-resource-agents `ocf/NovaEvacuate` (as patched in RHEL's
/// resource-agents, with `evacuate_delay`).
pub const REFERENCE_NOVA_EVACUATE: &[&str] = &[
    "auth_url",
    "username",
    "password",
    "tenant_name",
    "user_domain",
    "project_domain",
    "domain",
    "endpoint_type",
    "region_name",
    "insecure",
    "no_shared_storage",
    "verbose",
    "evacuate_delay",
];

/// openstack-resource-agents `ocf/nova-compute-wait` metadata.
pub const REFERENCE_NOVA_COMPUTE_WAIT: &[&str] = &[
    "auth_url",
    "username",
    "password",
    "tenant_name",
    "domain",
    "endpoint_type",
    "no_shared_storage",
    "evacuation_delay",
];

/// Which protocol an agent speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Fence,
    Ocf,
}

/// One action as documented.
#[derive(Debug, Clone)]
pub struct ActionDoc {
    pub name: &'static str,
    /// Timeout/interval/automatic, as the metadata advertises it.
    pub detail: String,
    pub description: &'static str,
}

/// Everything the documentation says about one agent.
#[derive(Debug, Clone)]
pub struct AgentDoc {
    pub name: &'static str,
    pub protocol: Protocol,
    pub shortdesc: &'static str,
    pub longdesc: &'static str,
    pub table: &'static [Param],
    pub actions: Vec<ActionDoc>,
    /// Canonical names of the parameters the reference agent has.
    pub reference: &'static [&'static str],
    /// The agent this one replaces, for the text.
    pub reference_source: &'static str,
    /// Where the package installs it.
    pub path: &'static str,
    /// The man page's file name (without directory).
    pub man_file: String,
}

impl AgentDoc {
    /// Is this parameter one the reference agent has?
    pub fn is_reference(&self, p: &Param) -> bool {
        self.reference
            .iter()
            .any(|r| *r == p.name || p.old_name == Some(*r))
    }
}

fn fence_action_text(a: fence::Action) -> &'static str {
    use fence::Action::*;
    match a {
        On => "Put the target back into service (unfencing).",
        Off => "Fence the target.",
        Reboot => "Same as off: a compute host is not powered back on by this agent.",
        Status => "Report the target's state: exit 0 when on, 2 when off, 1 on error.",
        Monitor => "Check that the device (Keystone and Nova) can be reached with the configured credentials.",
        List => "List the targets this device can fence, one plug,alias line each.",
        ListStatus => "Like list, with each target's state.",
        Metadata => "Print the agent's XML metadata (generated from the same table as this page).",
        ValidateAll => "Check the parameters without contacting anything that changes state.",
    }
}

fn ocf_action_text(name: &str) -> &'static str {
    match name {
        "start" => "Start the resource.",
        "stop" => "Stop the resource; succeeds whenever it can, even with a broken configuration.",
        "monitor" => {
            "Check the resource; a probe (interval 0) reports not running instead of failing."
        }
        "validate-all" => "Check the parameters.",
        "meta-data" => {
            "Print the agent's XML metadata (generated from the same table as this page)."
        }
        _ => "",
    }
}

fn fence_doc(
    agent: &dyn FenceAgent,
    reference: &'static [&'static str],
    reference_source: &'static str,
) -> AgentDoc {
    let mut actions: Vec<ActionDoc> = agent
        .actions()
        .iter()
        .map(|(a, automatic)| ActionDoc {
            name: a.name(),
            detail: if *automatic {
                "automatic (run by Pacemaker when the node rejoins)".to_string()
            } else {
                String::new()
            },
            description: fence_action_text(*a),
        })
        .collect();
    actions.push(ActionDoc {
        name: "metadata",
        detail: String::new(),
        description: fence_action_text(fence::Action::Metadata),
    });
    AgentDoc {
        name: agent.name(),
        protocol: Protocol::Fence,
        shortdesc: agent.shortdesc(),
        longdesc: agent.longdesc(),
        table: agent.table(),
        actions,
        reference,
        reference_source,
        path: match agent.name() {
            "fence_compute" => "/usr/sbin/fence_compute",
            _ => "/usr/sbin/fence_evacuate",
        },
        man_file: format!("{}.8", agent.name()),
    }
}

fn ocf_action_detail(a: &ActionSpec) -> String {
    let mut s = format!("timeout {}", a.timeout);
    if let Some(i) = a.interval {
        s.push_str(&format!(", interval {i}"));
    }
    if let Some(d) = a.depth {
        s.push_str(&format!(", depth {d}"));
    }
    s
}

fn ocf_doc(
    agent: &dyn OcfAgent,
    reference: &'static [&'static str],
    reference_source: &'static str,
    path: &'static str,
) -> AgentDoc {
    AgentDoc {
        name: agent.name(),
        protocol: Protocol::Ocf,
        shortdesc: agent.shortdesc(),
        longdesc: agent.longdesc(),
        table: agent.table(),
        actions: agent
            .actions()
            .iter()
            .map(|a| ActionDoc {
                name: a.name,
                detail: ocf_action_detail(a),
                description: ocf_action_text(a.name),
            })
            .collect(),
        reference,
        reference_source,
        path,
        man_file: format!("ocf_openstack_{}.8", agent.name()),
    }
}

/// The four agents, in the order the documentation lists them.
pub fn agents() -> Vec<AgentDoc> {
    vec![
        fence_doc(
            &fence::compute::FenceCompute,
            REFERENCE_FENCE_COMPUTE,
            "fence-agents' fence_compute (4.12.1)",
        ),
        fence_doc(
            &fence::evacuate::FenceEvacuate,
            REFERENCE_FENCE_EVACUATE,
            "fence-agents' fence_evacuate (4.12.1)",
        ),
        ocf_doc(
            &ocf::nova_evacuate::NovaEvacuate,
            REFERENCE_NOVA_EVACUATE,
            "openstack-resource-agents' NovaEvacuate (with RHEL's evacuate_delay)",
            "/usr/lib/ocf/resource.d/openstack/NovaEvacuate",
        ),
        ocf_doc(
            &ocf::nova_compute_wait::NovaComputeWait,
            REFERENCE_NOVA_COMPUTE_WAIT,
            "openstack-resource-agents' nova-compute-wait",
            "/usr/lib/ocf/resource.d/openstack/nova-compute-wait",
        ),
    ]
}

/// The type shown to operators.
pub fn kind_name(k: Kind) -> &'static str {
    match k {
        Kind::Str => "string",
        Kind::Bool => "boolean",
        Kind::Int => "integer",
        Kind::Seconds => "seconds",
        Kind::Secret => "string (secret)",
    }
}

/// Other accepted names: the deprecated one first, then the aliases.
fn other_names(p: &Param) -> Vec<String> {
    let mut v = Vec::new();
    if let Some(o) = p.old_name {
        v.push(format!("{o} (deprecated)"));
    }
    v.extend(p.aliases.iter().map(|a| a.to_string()));
    v
}

/// How the parameter is given on an OCF agent's command line.
fn ocf_getopt(p: &Param) -> String {
    match p.long {
        Some(l) if p.kind == Kind::Bool => format!("--{l}"),
        Some(l) => format!("--{l}=VALUE"),
        None => String::new(),
    }
}

fn getopt(agent: &AgentDoc, p: &Param) -> String {
    match agent.protocol {
        Protocol::Fence => p.getopt(),
        Protocol::Ocf => ocf_getopt(p),
    }
}

/// The longer description when there is one, else the short one.
fn description(p: &Param) -> &'static str {
    if p.longdesc.is_empty() {
        p.shortdesc
    } else {
        p.longdesc
    }
}

// ---------------------------------------------------------------- markdown

fn md(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('|', "\\|")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('\n', " ")
}

fn code(s: &str) -> String {
    if s.is_empty() {
        String::new()
    } else if s.contains('|') {
        format!(
            "<code>{}</code>",
            s.replace('&', "&amp;")
                .replace('<', "&lt;")
                .replace('>', "&gt;")
                .replace('|', "&#124;")
        )
    } else if s.contains('`') {
        format!("`` {s} ``")
    } else {
        format!("`{s}`")
    }
}

/// `docs/parameters.md`.
pub fn parameters_md() -> String {
    let agents = agents();
    let mut s = String::new();
    s.push_str("<!-- Generated by `cargo run --example gen-docs` from the agents' parameter tables (src/docs.rs). Do not edit: tests/docs.rs fails when this file is stale. -->\n\n");
    s.push_str("# Parameter reference\n\n");
    s.push_str(
        "Every parameter each agent accepts, from the same table that drives the agent's parsing and its metadata.\n\n",
    );
    s.push_str("* **Origin**: *reference* parameters exist in the agent this one replaces (listed per agent), so existing `pcs` configurations keep working; *ours* are new here.\n");
    s.push_str("* **Also accepted**: a *deprecated* name is still listed in the metadata (fence agents: `deprecated=\"1\"`); other spellings are accepted on input but not advertised. Everywhere, `-` and `_` are interchangeable.\n");
    s.push_str("* **Command line**: fence agents take getopt-style options (or `key=value` lines on stdin, as pacemaker-fenced sends them); OCF agents take `OCF_RESKEY_<name>` from Pacemaker, `--<option>` on the command line, or `name=value` lines on stdin with `--stdin`.\n");
    s.push_str("* **Type** `seconds` accepts `30`, `30s`, `500ms`, `2m`, `1h`; `boolean` accepts yes/no, true/false, on/off, 1/0.\n\n");
    s.push_str("| Agent | Protocol | Installed as | Reference parameters | Our parameters |\n|---|---|---|---|---|\n");
    for a in &agents {
        let ours = a.table.iter().filter(|p| !a.is_reference(p)).count();
        s.push_str(&format!(
            "| [{}](#{}) | {} | `{}` | {} | {} |\n",
            a.name,
            a.name.to_lowercase(),
            match a.protocol {
                Protocol::Fence => "fence agent (stonith)",
                Protocol::Ocf => "OCF resource agent",
            },
            a.path,
            a.table.len() - ours,
            ours
        ));
    }
    for a in &agents {
        s.push_str(&format!("\n## {}\n\n", a.name));
        s.push_str(&format!("{}.\n\n", md(a.shortdesc.trim_end_matches('.'))));
        s.push_str(&format!("{}\n\n", md(a.longdesc)));
        match a.protocol {
            Protocol::Fence => s.push_str(&format!(
                "Pacemaker: `pcs stonith create <id> {} ...`. ",
                a.name
            )),
            Protocol::Ocf => s.push_str(&format!(
                "Pacemaker: `pcs resource create <id> ocf:openstack:{} ...`. ",
                a.name
            )),
        }
        s.push_str(&format!(
            "Reference agent: {}. Man page: `{}`.\n\n",
            a.reference_source,
            a.man_file.trim_end_matches(".8")
        ));
        s.push_str("| Parameter | Origin | Also accepted | Command line | Type | Default | Required | Description |\n");
        s.push_str("|---|---|---|---|---|---|---|---|\n");
        for p in a.table {
            let origin = if a.is_reference(p) {
                "reference"
            } else {
                "**ours**"
            };
            let others = other_names(p)
                .iter()
                .map(|o| md(o))
                .collect::<Vec<_>>()
                .join(", ");
            let mut desc = md(description(p));
            if p.hidden {
                desc.push_str(" (Not shown in `--help`.)");
            }
            s.push_str(&format!(
                "| `{}` | {} | {} | {} | {} | {} | {} | {} |\n",
                p.name,
                origin,
                others,
                code(&getopt(a, p)),
                kind_name(p.kind),
                p.default.map(code).unwrap_or_default(),
                if p.required { "yes" } else { "" },
                desc
            ));
        }
        s.push_str("\nActions:\n\n");
        for act in &a.actions {
            if act.detail.is_empty() {
                s.push_str(&format!("* `{}`: {}\n", act.name, act.description));
            } else {
                s.push_str(&format!(
                    "* `{}` ({}): {}\n",
                    act.name, act.detail, act.description
                ));
            }
        }
    }
    s
}

// -------------------------------------------------------------------- roff

/// Escape text for roff: backslashes, and a leading `.` or `'` that would
/// be read as a request.
fn roff(s: &str) -> String {
    let mut out = String::new();
    for (i, line) in s.replace('\\', "\\e").split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
        }
        if line.starts_with('.') || line.starts_with('\'') {
            out.push_str("\\&");
        }
        out.push_str(line);
    }
    out
}

/// Options: escape `-` so it renders as a minus (copyable).
fn roff_opt(s: &str) -> String {
    roff(s).replace('-', "\\-")
}

/// The man page of one agent (section 8).
pub fn man_page(a: &AgentDoc) -> String {
    let version = env!("CARGO_PKG_VERSION");
    let title = a.man_file.trim_end_matches(".8");
    let mut s = String::new();
    s.push_str(&format!(
        ".\\\" Generated by `cargo run --example gen-docs` from the agent's parameter table (src/docs.rs). Do not edit.\n.TH {} 8 \"\" \"instance-ha {version}\" \"System Administration\"\n",
        roff_opt(&title.to_uppercase())
    ));
    s.push_str(".SH NAME\n");
    s.push_str(&format!("{} \\- {}\n", roff_opt(title), roff(a.shortdesc)));
    s.push_str(".SH SYNOPSIS\n");
    match a.protocol {
        Protocol::Fence => {
            s.push_str(&format!(
                ".B {}\n[\\fIOPTIONS\\fR]\n.br\n",
                roff_opt(a.name)
            ));
            s.push_str(&format!(
                ".B {}\n< \\fIkey=value lines\\fR\n",
                roff_opt(a.name)
            ));
        }
        Protocol::Ocf => {
            s.push_str(&format!(
                ".B {}\n{{start|stop|monitor|meta\\-data|validate\\-all}} [\\fB\\-\\-\\fIoption\\fB=\\fIvalue\\fR ...] [\\fB\\-\\-stdin\\fR]\n",
                roff_opt(a.path)
            ));
            s.push_str(&format!(
                ".br\n.B pcs resource create\n\\fIid\\fR \\fBocf:openstack:{}\\fR [\\fIname\\fB=\\fIvalue\\fR ...]\n",
                roff_opt(a.name)
            ));
        }
    }
    s.push_str(".SH DESCRIPTION\n");
    s.push_str(&format!("{}\n.PP\n", roff(a.longdesc)));
    match a.protocol {
        Protocol::Fence => s.push_str(
            "A fence agent for Pacemaker's stonith: with arguments it reads getopt-style options; without, \\fIkey\\fR=\\fIvalue\\fR lines on standard input, as pacemaker-fenced sends them (\\fB#\\fR comments allowed, \\fB-\\fR and \\fB_\\fR alike).\n",
        ),
        Protocol::Ocf => s.push_str(
            "An OCF resource agent: Pacemaker passes each parameter as \\fBOCF_RESKEY_\\fIname\\fR in the environment; by hand, give \\fB\\-\\-\\fIoption\\fB=\\fIvalue\\fR, or \\fIname\\fR=\\fIvalue\\fR lines on standard input with \\fB\\-\\-stdin\\fR.\n",
        ),
    }
    s.push_str(&format!(
        ".PP\nIt replaces {}; every parameter of that agent is accepted. Parameters marked \\fI(ours)\\fR are new here.\n",
        roff(a.reference_source)
    ));
    s.push_str(".SH PARAMETERS\n");
    for p in a.table {
        let opt = getopt(a, p);
        s.push_str(".TP\n");
        let mut head = format!("\\fB{}\\fR", roff_opt(p.name));
        if !opt.is_empty() {
            head.push_str(&format!(" (\\fB{}\\fR)", roff_opt(&opt)));
        }
        if !a.is_reference(p) {
            head.push_str(" \\fI(ours)\\fR");
        }
        s.push_str(&head);
        s.push('\n');
        s.push_str(&roff(description(p)));
        s.push('\n');
        let mut facts = vec![format!("Type: {}", kind_name(p.kind))];
        if let Some(d) = p.default.filter(|d| !d.is_empty()) {
            facts.push(format!("default: \\fB{}\\fR", roff(d)));
        }
        if p.required {
            facts.push("required".to_string());
        }
        let others = other_names(p);
        if !others.is_empty() {
            facts.push(format!("also accepted: {}", roff_opt(&others.join(", "))));
        }
        if p.hidden {
            facts.push("not shown in \\-\\-help".to_string());
        }
        s.push_str(&format!(".br\n{}.\n", facts.join("; ")));
    }
    s.push_str(".SH ACTIONS\n");
    for act in &a.actions {
        s.push_str(&format!(".TP\n\\fB{}\\fR", roff_opt(act.name)));
        if !act.detail.is_empty() {
            s.push_str(&format!(" ({})", roff(&act.detail)));
        }
        s.push_str(&format!("\n{}\n", roff(act.description)));
    }
    s.push_str(".SH EXIT STATUS\n");
    match a.protocol {
        Protocol::Fence => s.push_str(
            ".TP\n0\nSuccess (for \\fBstatus\\fR: the target is on).\n.TP\n1\nFailure; the reason is logged on standard error and to syslog.\n.TP\n2\n\\fBstatus\\fR: the target is off.\n",
        ),
        Protocol::Ocf => s.push_str(
            ".TP\n0\nOCF_SUCCESS\n.TP\n1\nOCF_ERR_GENERIC\n.TP\n2\nOCF_ERR_ARGS\n.TP\n3\nOCF_ERR_UNIMPLEMENTED\n.TP\n5\nOCF_ERR_INSTALLED\n.TP\n6\nOCF_ERR_CONFIGURED (Pacemaker does not retry it anywhere)\n.TP\n7\nOCF_NOT_RUNNING\n.PP\nOn failure an \\fBocf\\-exit\\-reason:\\fR line on standard error says why; Pacemaker shows it in \\fBcrm_mon\\fR(8) and \\fBpcs status\\fR.\n",
        ),
    }
    s.push_str(".SH FILES\n");
    s.push_str(&format!(".TP\n\\fI{}\\fR\nThe agent.\n", roff_opt(a.path)));
    s.push_str(".TP\n\\fI/usr/share/doc/instance\\-ha/parameters.md\\fR\nThe parameter reference of all agents.\n");
    s.push_str(".SH SEE ALSO\n");
    let mut see: Vec<String> = agents()
        .iter()
        .filter(|o| o.name != a.name)
        .map(|o| format!("\\fB{}\\fR(8)", roff_opt(o.man_file.trim_end_matches(".8"))))
        .collect();
    see.push("\\fBinstance\\-ha\\fR(8)".to_string());
    see.push("\\fBpcs\\fR(8)".to_string());
    s.push_str(&see.join(", "));
    s.push('\n');
    s
}

/// One option or argument of the operator command, as the man page shows it.
fn cli_arg(arg: &clap::Arg) -> Option<String> {
    if arg.is_hide_set() {
        return None;
    }
    let value_name = || {
        arg.get_value_names()
            .and_then(|v| v.first())
            .map(|v| v.to_string())
            .unwrap_or_else(|| arg.get_id().as_str().to_uppercase())
    };
    let mut head = String::new();
    if arg.is_positional() {
        head.push_str(&format!("\\fI{}\\fR", roff_opt(&value_name())));
    } else {
        if let Some(c) = arg.get_short() {
            head.push_str(&format!("\\fB\\-{}\\fR", roff_opt(&c.to_string())));
            if arg.get_long().is_some() {
                head.push_str(", ");
            }
        }
        if let Some(l) = arg.get_long() {
            head.push_str(&format!("\\fB\\-\\-{}\\fR", roff_opt(l)));
        }
        if arg.get_action().takes_values() {
            head.push_str(&format!(" \\fI{}\\fR", roff_opt(&value_name())));
        }
    }
    let mut text = arg.get_help().map(|h| h.to_string()).unwrap_or_default();
    let values: Vec<String> = arg
        .get_possible_values()
        .iter()
        .filter(|v| !v.is_hide_set())
        .map(|v| v.get_name().to_string())
        .collect();
    if !values.is_empty() && arg.get_action().takes_values() {
        if !text.is_empty() {
            text.push_str(". ");
        }
        text.push_str(&format!("One of: {}.", values.join(", ")));
    }
    Some(format!(".TP\n{head}\n{}\n", roff(&text)))
}

/// `instance-ha.8`, from the operator command's clap definition (the same
/// one `instance-ha --help` prints).
pub fn cli_man_page() -> String {
    use clap::CommandFactory;
    let cmd = crate::cli::Cli::command();
    let version = env!("CARGO_PKG_VERSION");
    let about = |c: &clap::Command| c.get_about().map(|a| a.to_string()).unwrap_or_default();
    let mut s = String::new();
    s.push_str(&format!(
        ".\\\" Generated by `cargo run --example gen-docs` from the instance-ha command's definition (src/cli, src/docs.rs). Do not edit.\n.TH INSTANCE\\-HA 8 \"\" \"instance-ha {version}\" \"System Administration\"\n"
    ));
    s.push_str(&format!(
        ".SH NAME\ninstance\\-ha \\- {}\n",
        roff(&about(&cmd))
    ));
    s.push_str(".SH SYNOPSIS\n.B instance\\-ha\n[\\fIGLOBAL OPTIONS\\fR] \\fICOMMAND\\fR [\\fIOPTIONS\\fR]\n");
    s.push_str(".SH DESCRIPTION\n");
    s.push_str(
        "The work itself is done by the agents Pacemaker runs: \\fBfence_compute\\fR(8) and \\fBfence_evacuate\\fR(8) (fence agents), \\fBocf_openstack_NovaEvacuate\\fR(8) and \\fBocf_openstack_nova\\-compute\\-wait\\fR(8) (OCF resource agents). This command shows and steers them.\n",
    );
    s.push_str(".SH GLOBAL OPTIONS\n");
    for arg in cmd.get_arguments() {
        if let Some(a) = cli_arg(arg) {
            s.push_str(&a);
        }
    }
    s.push_str(".TP\n\\fB\\-h\\fR, \\fB\\-\\-help\\fR\nPrint help (of the command, after it).\n");
    s.push_str(".TP\n\\fB\\-V\\fR, \\fB\\-\\-version\\fR\nPrint the version.\n");
    s.push_str(".SH COMMANDS\n");
    for sub in cmd.get_subcommands().filter(|c| !c.is_hide_set()) {
        let positional: Vec<String> = sub
            .get_arguments()
            .filter(|a| a.is_positional() && !a.is_hide_set())
            .map(|a| {
                let n = a
                    .get_value_names()
                    .and_then(|v| v.first())
                    .map(|v| v.to_string());
                format!(
                    "\\fI{}\\fR",
                    roff_opt(&n.unwrap_or_else(|| a.get_id().as_str().to_uppercase()))
                )
            })
            .collect();
        s.push_str(&format!(
            ".SS {} {}\n",
            roff_opt(sub.get_name()),
            positional.join(" ")
        ));
        s.push_str(&format!("{}\n", roff(&about(sub))));
        let opts: Vec<String> = sub
            .get_arguments()
            .filter(|a| !a.is_positional())
            .filter_map(cli_arg)
            .collect();
        if !opts.is_empty() {
            s.push_str(".RS\n");
            for o in opts {
                s.push_str(&o);
            }
            s.push_str(".RE\n");
        }
    }
    s.push_str(
        ".SH FILES\n.TP\n\\fI/usr/share/doc/instance\\-ha/parameters.md\\fR\nThe parameter reference of all agents.\n",
    );
    s.push_str(".TP\n\\fI/usr/share/doc/instance\\-ha/packaging.md\\fR\nHow the package lives beside the distributions' agents of the same names.\n");
    s.push_str(".SH SEE ALSO\n");
    let mut see: Vec<String> = agents()
        .iter()
        .map(|o| format!("\\fB{}\\fR(8)", roff_opt(o.man_file.trim_end_matches(".8"))))
        .collect();
    see.push("\\fBpcs\\fR(8)".to_string());
    see.push("\\fBcrm_mon\\fR(8)".to_string());
    s.push_str(&see.join(", "));
    s.push('\n');
    s
}

/// Every generated file: path relative to the repository root, contents.
pub fn generated() -> Vec<(String, String)> {
    let mut files = vec![("docs/parameters.md".to_string(), parameters_md())];
    for a in agents() {
        files.push((format!("docs/man/{}", a.man_file), man_page(&a)));
    }
    files.push(("docs/man/instance-ha.8".to_string(), cli_man_page()));
    files
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reference_parameter_is_in_the_table() {
        for a in agents() {
            for r in a.reference {
                assert!(
                    a.table
                        .iter()
                        .any(|p| p.name == *r || p.old_name == Some(*r)),
                    "{}: reference parameter {r} missing from the table",
                    a.name
                );
            }
        }
    }

    #[test]
    fn roff_escapes_requests_and_backslashes() {
        assert_eq!(roff(".x\n'y\na\\b"), "\\&.x\n\\&'y\na\\eb");
        assert_eq!(roff_opt("--auth-url"), "\\-\\-auth\\-url");
    }

    #[test]
    fn markdown_cells_stay_in_their_column() {
        assert_eq!(md("a|b\nc"), "a\\|b c");
        assert_eq!(code("|"), "<code>&#124;</code>");
    }
}

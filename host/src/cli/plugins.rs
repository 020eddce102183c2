//! `lava-conn plugins` and `lava-conn describe`: what the host made of the
//! plugin folder, for operators and plugin authors.

use std::process::ExitCode;

use lava_conn::{Capability, ConnectorHost, Declared, PluginInfo, PluginSource, Scope, WorkerConfig, sanitize};
use serde_json::json;

use super::common::{Globals, host};

/// List the loaded connector plugins: type, version, contract, size,
/// compile-cache state, source, sha256; and the files that were skipped.
#[derive(clap::Args)]
pub struct PluginsArgs {
    /// Print machine-readable JSON (with each type's fields).
    #[arg(long)]
    json: bool,
}

/// Show one connector type: its plugin, and the spec fields it documents.
#[derive(clap::Args)]
pub struct DescribeArgs {
    /// Print machine-readable JSON.
    #[arg(long)]
    json: bool,
    /// The connector type (case-insensitive).
    #[arg(value_name = "TYPE")]
    connector_type: String,
}

pub fn run_plugins(args: &PluginsArgs, globals: &Globals, config: WorkerConfig) -> anyhow::Result<ExitCode> {
    plugins(&host(globals, config, None)?, args.json);
    Ok(ExitCode::SUCCESS)
}

pub fn run_describe(args: &DescribeArgs, globals: &Globals, config: WorkerConfig) -> anyhow::Result<ExitCode> {
    describe(&host(globals, config, None)?, &args.connector_type, args.json)
}

/// A scope as JSON: `"any"` or its entries.
fn scope_json(scope: &Scope) -> serde_json::Value {
    match scope {
        Scope::Any => json!("any"),
        Scope::Only(entries) => json!(entries),
    }
}

/// A scope in words: `any`, `none` or its entries.
fn scope_words(scope: Option<&Scope>) -> String {
    match scope {
        None => "none".into(),
        Some(Scope::Any) => "any".into(),
        Some(Scope::Only(entries)) if entries.is_empty() => "none".into(),
        Some(Scope::Only(entries)) => entries.join(", "),
    }
}

/// What a type's plugin declares, what the worker grants it, and what it
/// declares that the worker grants none of (with the setting that would).
fn capabilities_json(host: &ConnectorHost, p: &PluginInfo, connector_type: &str) -> serde_json::Value {
    let allowed = host.allowed(p, connector_type);
    let declared = match &p.declared {
        Declared::Legacy => json!("legacy"),
        Declared::Needs(needs) => {
            json!(
                needs
                    .iter()
                    .map(|(c, s)| json!({"capability": c.as_str(), "scope": scope_json(s)}))
                    .collect::<Vec<_>>()
            )
        }
    };
    let granted: Vec<_> = Capability::ALL
        .iter()
        .filter(|c| matches!(p.declared, Declared::Legacy) || p.declared.scope(**c).is_some())
        .filter_map(|c| allowed.scopes.get(c).map(|s| (c, s)))
        .filter(|(_, s)| !matches!(s, Scope::Only(entries) if entries.is_empty()))
        .map(|(c, s)| json!({"capability": c.as_str(), "scope": scope_json(s), "setting": allowed.source.setting(*c)}))
        .collect();
    let missing: Vec<_> = allowed
        .missing(&p.declared)
        .into_iter()
        .map(|c| json!({"capability": c.as_str(), "setting": allowed.source.setting(c)}))
        .collect();
    json!({"declared": declared, "granted": granted, "missing": missing})
}

/// One plugin's row for `plugins --json` and `describe --json`.
fn plugin_json(host: &ConnectorHost, p: &PluginInfo, connector_type: &str) -> serde_json::Value {
    json!({
        "capabilities": capabilities_json(host, p, connector_type),
        "type": connector_type,
        "version": p.version,
        "contract": p.contract.as_str(),
        "source": p.source.to_string(),
        "sha256": p.sha256,
        "size_bytes": p.size_bytes,
        "compile_cache": p.compile_cache.as_str(),
        "memory_limit_mib": p.memory_limit_mib,
        "initial_memory_bytes": p.initial_memory_bytes,
        "core_instances": p.core_instances,
        "slots_per_call": p.slots_per_call,
        "fields": p.fields.iter().map(|(name, type_name, required, description)| json!({
            "name": name, "type": type_name, "required": required, "description": description,
        })).collect::<Vec<_>>(),
    })
}

fn plugin_source(p: &PluginInfo) -> String {
    match &p.source {
        PluginSource::BuiltIn(_) => "built-in".to_string(),
        PluginSource::File(path) => sanitize(&path.to_string_lossy()),
    }
}

/// A plugin's linear memory at start, in MiB (`12.4`).
fn memory_at_start_mib(p: &PluginInfo) -> String {
    format!("{:.1}", p.initial_memory_bytes as f64 / f64::from(1 << 20))
}

/// Linear memory at start over the limit, in MiB: `12.4/64`.
fn memory(p: &PluginInfo) -> String {
    format!("{}/{}", memory_at_start_mib(p), p.memory_limit_mib)
}

fn plugins(host: &ConnectorHost, json: bool) {
    let plugins = host.plugins();
    if json {
        let rows: Vec<_> = plugins.iter().flat_map(|p| p.types.iter().map(move |t| plugin_json(host, p, t))).collect();
        let skipped: Vec<_> = host
            .skipped_plugins()
            .iter()
            .map(|s| json!({"source": sanitize(&s.path.to_string_lossy()), "reason": s.reason}))
            .collect();
        let out = json!({"plugins": rows, "skipped": skipped});
        println!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
        return;
    }
    println!(
        "{:<16} {:<10} {:<8} {:>9} {:<10} {:>9} {:>5} {:<40} SHA256",
        "TYPE", "VERSION", "CONTRACT", "SIZE", "CACHE", "MEMORY", "SLOTS", "SOURCE"
    );
    for p in &plugins {
        let source = plugin_source(p);
        for t in &p.types {
            println!(
                "{t:<16} {:<10} {:<8} {:>9} {:<10} {:>9} {:>5} {source:<40} {}",
                p.version,
                p.contract.as_str(),
                p.size_bytes,
                p.compile_cache.as_str(),
                memory(p),
                p.slots_per_call,
                p.sha256
            );
            // One line per type: a family's types each have their policy.
            let allowed = host.allowed(p, t);
            let missing: Vec<String> = allowed
                .missing(&p.declared)
                .into_iter()
                .map(|c| format!("`{c}` ({})", allowed.source.setting(c)))
                .collect();
            if !missing.is_empty() {
                println!("  {t}: declares what the worker grants none of: {}", missing.join(", "));
            }
        }
    }
    for s in host.skipped_plugins() {
        println!("skipped: {}: {}", sanitize(&s.path.to_string_lossy()), s.reason);
    }
}

/// The capability table of `describe`: per capability, what the plugin
/// declares and what the worker allows the type.
fn print_capabilities(host: &ConnectorHost, plugin: &PluginInfo, connector_type: &str) {
    let allowed = host.allowed(plugin, connector_type);
    if plugin.declared == Declared::Legacy {
        println!(
            "capabilities:  declares none (contract {}): held to the worker's policy alone",
            plugin.contract.as_str()
        );
    }
    println!("{:<20} {:<30} {:<30} SETTING", "CAPABILITY", "DECLARED", "WORKER ALLOWS");
    for c in Capability::ALL {
        let declared = match &plugin.declared {
            Declared::Legacy => "(all of its contract)".to_string(),
            Declared::Needs(_) => scope_words(plugin.declared.scope(c)),
        };
        let allows = scope_words(allowed.scopes.get(&c));
        if declared == "none" && allows == "none" {
            continue;
        }
        println!("{:<20} {declared:<30} {allows:<30} {}", c.as_str(), allowed.source.setting(c));
    }
}

fn describe(host: &ConnectorHost, connector_type: &str, json: bool) -> anyhow::Result<ExitCode> {
    let wanted = connector_type.to_ascii_lowercase();
    let plugins = host.plugins();
    let Some(plugin) = plugins.iter().find(|p| p.types.contains(&wanted)) else {
        let known: Vec<&str> = plugins.iter().flat_map(|p| p.types.iter().map(String::as_str)).collect();
        anyhow::bail!(
            "no plugin serves connector type `{}`; known types: {} (see `lava-conn plugins` for skipped files)",
            sanitize(connector_type),
            known.join(", ")
        );
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&plugin_json(host, plugin, &wanted)).unwrap_or_default());
        return Ok(ExitCode::SUCCESS);
    }
    println!("type:          {wanted}");
    println!("version:       {}", plugin.version);
    println!("contract:      {}", plugin.contract.as_str());
    println!("source:        {}", plugin_source(plugin));
    println!("size:          {} bytes", plugin.size_bytes);
    println!("compile cache: {}", plugin.compile_cache.as_str());
    println!("memory:        {} MiB at start, limit {} MiB", memory_at_start_mib(plugin), plugin.memory_limit_mib);
    println!(
        "instance:      {} core instances, {} slot(s) of the pool per call",
        plugin.core_instances, plugin.slots_per_call
    );
    println!("sha256:        {}", plugin.sha256);
    println!();
    print_capabilities(host, plugin, &wanted);
    println!();
    println!("{:<20} {:<22} {:<9} DESCRIPTION", "FIELD", "TYPE", "REQUIRED");
    for (name, type_name, required, description) in &plugin.fields {
        println!("{name:<20} {type_name:<22} {:<9} {description}", if *required { "yes" } else { "no" });
    }
    Ok(ExitCode::SUCCESS)
}

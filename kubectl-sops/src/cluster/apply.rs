//! `kubectl sops apply -f FILE|DIR|-`: every file decrypted in memory first, then each object
//! server-side applied (like `kubectl apply --server-side`), Namespaces and CRDs before the rest.

use std::io::Write;
use std::time::{Duration, Instant};

use anyhow::Result;
use clap::{Args, ValueEnum};
use futures::stream::{self, StreamExt};
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use serde_json::Value as Json;
use sops_engine::keys::KeyRing;
use sops_engine::stores::Format;

use super::connect::{Cluster, ClusterArgs};
use super::manifests::{self, Manifest};
use super::objects::{self, scrub};
use super::resolve::{self, goes_first, Resolver, Unresolved, CONCURRENCY};

const APPLY_HELP: &str = "\
Every file is decrypted in memory before anything is sent; a file that does not decrypt (no key: exit
128, MAC mismatch: exit 51) applies nothing. Plain manifests pass through. The `sops` metadata never
reaches the server, and a Secret's stringData is sent as base64 data, so re-applying the same file
changes nothing. A SopsSecret (isindir.github.com) is applied as the Secrets its
spec.secretTemplates describe; --raw sends it as it is (for clusters running the sops-secrets-operator).

Exit status: 0 when every object was applied, 1 when one failed (each failure named on stderr).";

/// `--dry-run` values, as in kubectl.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum DryRun {
    /// Apply for real.
    None,
    /// Ask the server to validate without persisting (defaults and webhooks run).
    Server,
    /// Send no write at all (the server is only asked which kinds it serves).
    Client,
}

/// `-o` values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// `kind/name` only.
    Name,
    /// The applied objects as YAML.
    Yaml,
    /// The applied objects as JSON.
    Json,
}

/// Arguments of `apply`.
#[derive(Args)]
#[command(after_long_help = APPLY_HELP)]
pub struct ApplyArgs {
    /// File, directory (its .yaml, .yml and .json files) or `-` for stdin; may be repeated.
    #[arg(
        short = 'f',
        long = "filename",
        value_name = "FILE|DIR|-",
        required = true
    )]
    pub files: Vec<String>,
    /// Also read the subdirectories of directories given with -f.
    #[arg(short = 'R', long)]
    pub recursive: bool,
    /// none, server (validated by the server, nothing stored) or client (nothing sent).
    #[arg(long, value_enum, default_value = "none", num_args = 0..=1, default_missing_value = "client")]
    pub dry_run: DryRun,
    /// Field manager name for server-side apply.
    #[arg(long, default_value = "kubectl-sops")]
    pub field_manager: String,
    /// Take over fields owned by other managers instead of failing on conflicts.
    #[arg(long)]
    pub force_conflicts: bool,
    /// Accepted for kubectl habits: apply is always server-side.
    #[arg(long, hide = true)]
    pub server_side: bool,
    /// Output format: name, yaml or json (Secret values masked unless --show-values).
    #[arg(short = 'o', long, value_enum)]
    pub output: Option<OutputFormat>,
    /// Show Secret values in -o yaml/json output.
    #[arg(long)]
    pub show_values: bool,
    /// Apply SopsSecrets as they are (still encrypted) instead of the Secrets they describe.
    #[arg(long)]
    pub raw: bool,
    #[command(flatten)]
    pub cluster: ClusterArgs,
}

/// Runs `apply`.
pub fn run(a: ApplyArgs) -> Result<()> {
    let files = manifests::files(&a.files, a.recursive)?;
    let loaded = manifests::load(&files, &KeyRing::default(), a.raw)?;
    if loaded.objects.is_empty() {
        return Err(crate::fail(1, "no objects passed to apply"));
    }
    super::runtime()?.block_on(apply_all(&a, loaded))
}

/// The outcome of one object.
struct Outcome {
    name: String,
    result: Result<Json, String>,
}

async fn apply_all(a: &ApplyArgs, loaded: manifests::Manifests) -> Result<()> {
    let cluster = a.cluster.connect().await?;
    let (first, rest): (Vec<Manifest>, Vec<Manifest>) = loaded
        .objects
        .into_iter()
        .partition(|m| goes_first(&m.object));
    let mut resolver = Resolver::default();
    let mut outcomes = Vec::new();
    for (phase, batch) in [first, rest].into_iter().enumerate() {
        if batch.is_empty() {
            continue;
        }
        resolver
            .discover(&cluster, batch.iter().map(|m| &m.object))
            .await;
        let results = apply_batch(a, &cluster, &resolver, batch, &loaded.secrets).await?;
        if phase == 0 && a.dry_run == DryRun::None {
            wait_for_crds(&cluster, &results).await;
        }
        outcomes.extend(results);
    }
    report(a, &outcomes)
}

async fn apply_batch(
    a: &ApplyArgs,
    cluster: &Cluster,
    resolver: &Resolver,
    batch: Vec<Manifest>,
    secrets: &[String],
) -> Result<Vec<Outcome>> {
    let params = resolve::apply_params(
        &a.field_manager,
        a.force_conflicts,
        a.dry_run == DryRun::Server,
    );
    let mut jobs = Vec::with_capacity(batch.len());
    for m in batch {
        let mut obj = m.object;
        let display = objects::display_name(&obj);
        let target = resolver.api_for(cluster, &mut obj);
        if let Err(Unresolved::Unreachable(msg)) = &target {
            // one message for the whole run instead of one per object
            return Err(crate::fail(1, msg.clone()));
        }
        let label = resolve::label(&display, &m.source, objects::namespace(&obj));
        jobs.push((display, label, target, obj));
    }
    // in input order, like kubectl's result lines
    Ok(stream::iter(jobs)
        .map(|(display, label, target, obj)| {
            let params = &params;
            async move {
                let result = match target {
                    Err(e) => Err(format!("{label}: {e}")),
                    Ok((api, _)) => send(a, &api, &obj, params, cluster)
                        .await
                        .map_err(|e| format!("{label}: {}", scrub(&e, secrets))),
                };
                Outcome {
                    name: display,
                    result,
                }
            }
        })
        .buffered(CONCURRENCY)
        .collect()
        .await)
}

async fn send(
    a: &ApplyArgs,
    api: &Api<DynamicObject>,
    obj: &Json,
    params: &PatchParams,
    cluster: &Cluster,
) -> std::result::Result<Json, String> {
    let name = objects::name(obj);
    if name.is_empty() {
        return Err("metadata.name must be set".into());
    }
    if a.dry_run == DryRun::Client {
        return Ok(obj.clone());
    }
    match api.patch(name, params, &Patch::Apply(obj)).await {
        Ok(applied) => serde_json::to_value(applied).map_err(|e| e.to_string()),
        Err(e) => {
            let (_, mut msg) = resolve::describe(&e, &cluster.server);
            if matches!(&e, kube::Error::Api(s) if s.code == 409) {
                msg.push_str(" (use --force-conflicts to take over these fields)");
            }
            Err(msg)
        }
    }
}

/// Waits (up to 30 s) until the CRDs just applied are served, so their objects can follow.
async fn wait_for_crds(cluster: &Cluster, outcomes: &[Outcome]) {
    let crds: Vec<&str> = outcomes
        .iter()
        .filter_map(|o| o.result.as_ref().ok())
        .filter(|o| objects::kind(o) == "CustomResourceDefinition")
        .map(objects::name)
        .collect();
    if crds.is_empty() {
        return;
    }
    let api: Api<DynamicObject> = Api::all_with(
        cluster.client.clone(),
        &kube::discovery::ApiResource::from_gvk_with_plural(
            &kube::core::GroupVersionKind::gvk(
                "apiextensions.k8s.io",
                "v1",
                "CustomResourceDefinition",
            ),
            "customresourcedefinitions",
        ),
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    for name in crds {
        while Instant::now() < deadline {
            let established = api.get(name).await.ok().is_some_and(|crd| {
                crd.data
                    .pointer("/status/conditions")
                    .and_then(Json::as_array)
                    .is_some_and(|cs| {
                        cs.iter().any(|c| {
                            c.get("type").and_then(Json::as_str) == Some("Established")
                                && c.get("status").and_then(Json::as_str) == Some("True")
                        })
                    })
            });
            if established {
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

fn report(a: &ApplyArgs, outcomes: &[Outcome]) -> Result<()> {
    let suffix = match a.dry_run {
        DryRun::None => "",
        DryRun::Server => " (server dry run)",
        DryRun::Client => " (dry run)",
    };
    let mut out = std::io::stdout().lock();
    let mut failed = 0;
    let mut docs = Vec::new();
    for o in outcomes {
        match &o.result {
            Ok(obj) => match a.output {
                None => writeln!(out, "{} serverside-applied{suffix}", o.name)?,
                Some(OutputFormat::Name) => writeln!(out, "{}", o.name)?,
                Some(_) => {
                    let mut obj = obj.clone();
                    if !a.show_values {
                        objects::mask_secret_values(&mut obj);
                    }
                    docs.push(obj);
                }
            },
            Err(msg) => {
                failed += 1;
                let _ = out.flush();
                eprintln!("{}: error: {msg}", crate::prog::name());
            }
        }
    }
    match a.output {
        Some(OutputFormat::Yaml) => {
            let branches: Vec<_> = docs.iter().map(objects::to_branch).collect();
            // kubectl's layout: two-space indentation
            let settings = sops_engine::stores::StoreSettings {
                yaml_indent: Some(2),
                ..Default::default()
            };
            let bytes = sops_engine::stores::store_for(Format::Yaml, &settings)
                .emit_plain(&branches)
                .map_err(|e| crate::fail(1, e.to_string()))?;
            out.write_all(&bytes)?;
        }
        Some(OutputFormat::Json) => {
            let v = if docs.len() == 1 {
                docs.pop().unwrap_or_default()
            } else {
                serde_json::json!({"apiVersion": "v1", "kind": "List", "items": docs})
            };
            writeln!(out, "{}", serde_json::to_string_pretty(&v)?)?;
        }
        _ => {}
    }
    out.flush()?;
    if failed > 0 {
        std::process::exit(1);
    }
    Ok(())
}

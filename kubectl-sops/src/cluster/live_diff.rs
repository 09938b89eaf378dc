//! `kubectl sops diff -f FILE|DIR`: what `apply` would change in the live cluster, field by field.
//!
//! Each object is sent as a server-side dry-run apply (so defaults, admission and webhooks count) and
//! the answer compared with the live object. A Secret's `data` is compared decoded. Values are masked
//! unless `--show-values`: a Secret's `data`/`stringData` always, and everything outside `metadata` of
//! objects from encrypted files. `KUBECTL_EXTERNAL_DIFF` gets two directories on tmpfs (removed on
//! every exit), like kubectl's LIVE/MERGED.

use std::io::Write;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use anyhow::Result;
use futures::stream::{self, StreamExt};
use kube::api::Patch;
use serde_json::{Map, Value as Json};
use sops_engine::keys::KeyRing;
use sops_engine::private_dir::PrivateDir;
use sops_engine::signals;
use sops_engine::stores::Format;

use super::connect::ClusterArgs;
use super::manifests::{self, Manifest};
use super::objects::{self, scrub};
use super::resolve::{self, Resolver, Unresolved, CONCURRENCY};
use crate::io::store;

/// The live-cluster part of `diff`'s arguments.
#[derive(clap::Args, Default)]
pub struct LiveArgs {
    /// Compare with the live cluster: file, directory or `-`; may be repeated.
    #[arg(short = 'f', long = "filename", value_name = "FILE|DIR|-")]
    pub files: Vec<String>,
    /// Also read the subdirectories of directories given with -f.
    #[arg(short = 'R', long, requires = "files")]
    pub recursive: bool,
    /// Field manager for the dry-run apply.
    #[arg(long, default_value = "kubectl-sops", requires = "files")]
    pub field_manager: String,
    /// Take over fields owned by other managers in the dry-run apply.
    #[arg(long, requires = "files")]
    pub force_conflicts: bool,
    /// Compare SopsSecrets as they are instead of the Secrets they describe.
    #[arg(long, requires = "files")]
    pub raw: bool,
    #[command(flatten)]
    pub cluster: ClusterArgs,
}

/// One object: live and what apply would make of it.
struct Pair {
    name: String,
    file_name: String,
    live: Option<Json>,
    merged: Json,
    masked_everywhere: bool,
    /// The values encrypted in its file.
    hidden: Arc<[String]>,
}

impl Pair {
    fn masking(&self) -> objects::Masking<'_> {
        objects::Masking {
            everywhere: self.masked_everywhere,
            hidden: &self.hidden,
        }
    }
}

/// Runs the live diff; Ok(true) when nothing would change.
pub fn run(a: &LiveArgs, show_values: bool) -> Result<bool> {
    let files = manifests::files(&a.files, a.recursive)?;
    let loaded = manifests::load(&files, &KeyRing::default(), a.raw)?;
    let pairs = super::runtime()?.block_on(collect(a, loaded))?;
    match std::env::var("KUBECTL_EXTERNAL_DIFF")
        .ok()
        .filter(|s| !s.trim().is_empty())
    {
        Some(cmd) => external(&cmd, &pairs, show_values),
        None => Ok(print(&pairs, show_values)?),
    }
}

async fn collect(a: &LiveArgs, loaded: manifests::Manifests) -> Result<Vec<Pair>> {
    let cluster = a.cluster.connect().await?;
    let mut resolver = Resolver::default();
    resolver
        .discover(&cluster, loaded.objects.iter().map(|m| &m.object))
        .await;
    let params = resolve::apply_params(&a.field_manager, a.force_conflicts, true);
    let mut jobs = Vec::new();
    for Manifest {
        source,
        mut object,
        from_encrypted,
        hidden,
    } in loaded.objects
    {
        let name = objects::display_name(&object);
        let target = resolver.api_for(&cluster, &mut object);
        if let Err(Unresolved::Unreachable(m)) = &target {
            return Err(crate::fail(2, m.clone()));
        }
        jobs.push((name, source, target, object, (from_encrypted, hidden)));
    }
    let secrets = &loaded.secrets;
    let results: Vec<Result<Pair, String>> = stream::iter(jobs)
        .map(|(name, source, target, object, (from_encrypted, hidden))| {
            let (params, cluster) = (&params, &cluster);
            async move {
                let ns = objects::namespace(&object).map(str::to_string);
                let label = resolve::label(&name, &source, ns.as_deref());
                let (api, _) = target.map_err(|e| format!("{label}: {e}"))?;
                let obj_name = objects::name(&object).to_string();
                if obj_name.is_empty() {
                    return Err(format!("{label}: metadata.name must be set"));
                }
                let fail = |e: kube::Error| {
                    let (_, m) = resolve::describe(&e, &cluster.server);
                    format!("{label}: {}", scrub(&m, secrets))
                };
                let live = api.get_opt(&obj_name).await.map_err(fail)?;
                let merged = api
                    .patch(&obj_name, params, &Patch::Apply(&object))
                    .await
                    .map_err(fail)?;
                let to_json = |o| serde_json::to_value(o).map_err(|e| format!("{label}: {e}"));
                let api_version = objects::api_version(&object);
                let group_version = if objects::group_of(api_version).is_empty() {
                    api_version.to_string()
                } else {
                    api_version.replace('/', ".")
                };
                Ok(Pair {
                    file_name: format!(
                        "{group_version}.{}.{}{}",
                        objects::kind(&object),
                        ns.map(|n| format!("{n}.")).unwrap_or_default(),
                        obj_name
                    ),
                    name: match objects::namespace(&object) {
                        Some(ns) => format!("{name} (namespace {ns})"),
                        None => name,
                    },
                    live: live.map(to_json).transpose()?,
                    merged: to_json(merged)?,
                    masked_everywhere: from_encrypted,
                    hidden,
                })
            }
        })
        .buffered(CONCURRENCY)
        .collect()
        .await;
    let mut pairs: Vec<Pair> = Vec::new();
    let mut errors = Vec::new();
    for r in results {
        match r {
            // the same object twice: the last document wins, as it would in apply
            Ok(p) => {
                pairs.retain(|q| q.file_name != p.file_name);
                pairs.push(p);
            }
            Err(e) => errors.push(e),
        }
    }
    if !errors.is_empty() {
        for e in &errors[..errors.len() - 1] {
            eprintln!("{}: error: {e}", crate::prog::name());
        }
        return Err(crate::fail(2, errors.pop().unwrap_or_default()));
    }
    Ok(pairs)
}

/// Server-set fields that say nothing about the change.
const VOLATILE: &[&str] = &[
    "managedFields",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "uid",
];

fn normalize(o: &Json) -> Json {
    let mut o = o.clone();
    if let Some(meta) = o.get_mut("metadata").and_then(Json::as_object_mut) {
        for k in VOLATILE {
            meta.remove(*k);
        }
    }
    objects::decode_secret_data(&mut o);
    o
}

/// A leaf: its readable path (`data.password`, `data["tls.crt"]`, `spec.x[2]`), its keys and
/// indexes from the top, and its value.
type Leaf = (String, Vec<String>, Json);

/// The leaves of a JSON value.
fn leaves(v: &Json, path: &str, segs: &mut Vec<String>, out: &mut Vec<Leaf>) {
    match v {
        Json::Object(m) if !m.is_empty() => {
            for (k, v) in m {
                segs.push(k.clone());
                leaves(v, &key_path(path, k), segs, out);
                segs.pop();
            }
        }
        Json::Array(a) if !a.is_empty() => {
            for (i, v) in a.iter().enumerate() {
                segs.push(i.to_string());
                leaves(v, &format!("{path}[{i}]"), segs, out);
                segs.pop();
            }
        }
        other => out.push((path.to_string(), segs.clone(), other.clone())),
    }
}

fn key_path(path: &str, key: &str) -> String {
    format!(
        "{path}{}",
        sops_engine::diff::key_segment(key, path.is_empty())
    )
}

/// The changed lines of one object (`~ path: old -> new`, `+ path: v`, `- path: v`).
fn changes(p: &Pair, show_values: bool) -> Vec<String> {
    let merged = normalize(&p.merged);
    let is_secret = objects::is_secret(&merged);
    let mut new = Vec::new();
    leaves(&merged, "", &mut Vec::new(), &mut new);
    let mut old = Vec::new();
    if let Some(live) = &p.live {
        leaves(&normalize(live), "", &mut Vec::new(), &mut old);
    }
    let show = |segs: &[String], v: &Json| {
        if !show_values && objects::is_masked(segs, v, is_secret, p.masking()) {
            "***".to_string()
        } else {
            v.to_string()
        }
    };
    let old_map: Map<String, Json> = old.iter().map(|(p, _, v)| (p.clone(), v.clone())).collect();
    let new_map: Map<String, Json> = new.iter().map(|(p, _, v)| (p.clone(), v.clone())).collect();
    let mut lines = Vec::new();
    for (path, segs, v) in &old {
        if !new_map.contains_key(path) {
            lines.push(format!("- {path}: {}", show(segs, v)));
        }
    }
    for (path, segs, v) in &new {
        match old_map.get(path) {
            None => lines.push(format!("+ {path}: {}", show(segs, v))),
            Some(o) if o != v => {
                // hidden when either side is
                let shown_old = show(segs, o);
                let shown_new = show(segs, v);
                let (o, n) = if shown_old == "***" || shown_new == "***" {
                    ("***".to_string(), "***".to_string())
                } else {
                    (shown_old, shown_new)
                };
                lines.push(format!("~ {path}: {o} -> {n}"))
            }
            Some(_) => {}
        }
    }
    lines
}

fn print(pairs: &[Pair], show_values: bool) -> std::io::Result<bool> {
    let mut out = std::io::stdout().lock();
    let mut same = true;
    for p in pairs {
        let lines = changes(p, show_values);
        if lines.is_empty() {
            continue;
        }
        same = false;
        let what = if p.live.is_none() { " (new)" } else { "" };
        writeln!(out, "{}{what}", p.name)?;
        for l in lines {
            writeln!(out, "  {l}")?;
        }
    }
    out.flush()?;
    Ok(same)
}

/// Runs `KUBECTL_EXTERNAL_DIFF LIVE MERGED` on YAML files in a private tmpfs directory.
fn external(cmd: &str, pairs: &[Pair], show_values: bool) -> Result<bool> {
    let argv = sops_engine::shell::split_command(cmd)
        .filter(|w| !w.is_empty())
        .ok_or_else(|| crate::fail(2, "KUBECTL_EXTERNAL_DIFF: unbalanced quotes"))?;
    let session = signals::install();
    let dir = PrivateDir::create(std::ffi::OsStr::new("diff"), false)
        .map_err(|e| crate::fail(2, e.to_string()))?;
    let (live_dir, merged_dir) = (dir.dir().join("LIVE"), dir.dir().join("MERGED"));
    let write_side = |d: &Path, side: &dyn Fn(&Pair) -> Option<Json>| -> Result<()> {
        create_private_dir(d)?;
        for p in pairs {
            let Some(o) = side(p) else { continue };
            let bytes = store(Format::Yaml, None)
                .emit_plain(&[objects::to_branch(&o)])
                .map_err(|e| crate::fail(2, e.to_string()))?;
            write_private_file(&d.join(&p.file_name), &bytes)?;
        }
        Ok(())
    };
    write_side(&live_dir, &|p| {
        p.live
            .as_ref()
            .map(|l| masked_side(p, l, true, show_values))
    })?;
    write_side(&merged_dir, &|p| {
        Some(masked_side(p, &p.merged, false, show_values))
    })?;
    let mut child = Command::new(&argv[0])
        .args(&argv[1..])
        .arg(&live_dir)
        .arg(&merged_dir)
        .spawn()
        .map_err(|e| crate::fail(2, format!("KUBECTL_EXTERNAL_DIFF: {}: {e}", argv[0])))?;
    signals::set_child(Some(child.id()));
    let status = child.wait();
    signals::set_child(None);
    drop(dir);
    drop(session);
    if let Some(sig) = signals::pending() {
        return Err(crate::fail(
            128 + sig,
            format!("interrupted by {}", signals::name(sig)),
        ));
    }
    match status?.code() {
        Some(0) => Ok(true),
        Some(1) => Ok(false),
        Some(n) => Err(crate::fail(
            n,
            format!("{} exited with status {n}", argv[0]),
        )),
        None => Err(crate::fail(
            2,
            format!("{} was killed by a signal", argv[0]),
        )),
    }
}

/// One side of a pair, normalized and (without `show_values`) masked like kubectl: `***` where
/// both sides agree, `*** (before)` / `*** (after)` where they differ, so a changed secret still
/// shows up in an external diff without its value.
fn masked_side(p: &Pair, side: &Json, is_live: bool, show_values: bool) -> Json {
    let mut o = normalize(side);
    if show_values {
        return o;
    }
    let other = if is_live {
        Some(normalize(&p.merged))
    } else {
        p.live.as_ref().map(normalize)
    };
    let tag = if is_live {
        "*** (before)"
    } else {
        "*** (after)"
    };
    objects::mask(&mut o, other.as_ref(), tag, p.masking());
    o
}

fn create_private_dir(d: &Path) -> Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(d)
        .map_err(|e| crate::fail(2, format!("{}: {e}", d.display())))
}

fn write_private_file(p: &Path, bytes: &[u8]) -> Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(p)
        .map_err(|e| crate::fail(2, format!("{}: {e}", p.display())))?;
    f.write_all(bytes)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pair(live: Option<Json>, merged: Json, everywhere: bool) -> Pair {
        Pair {
            name: "x".into(),
            file_name: "x".into(),
            live,
            merged,
            masked_everywhere: everywhere,
            hidden: Arc::from(Vec::<String>::new()),
        }
    }

    #[test]
    fn secret_data_compared_decoded_and_masked() {
        let live = json!({"apiVersion":"v1","kind":"Secret","metadata":{"name":"db","resourceVersion":"1"},
            "data":{"a":"eA==","b":"eA=="}});
        let merged = json!({"apiVersion":"v1","kind":"Secret","metadata":{"name":"db","resourceVersion":"2"},
            "data":{"a":"eA==","b":"eQ==","c":"eg=="}});
        let p = pair(Some(live), merged, false);
        assert_eq!(
            changes(&p, false),
            ["~ data.b: *** -> ***", "+ data.c: ***"]
        );
        assert_eq!(
            changes(&p, true),
            ["~ data.b: \"x\" -> \"y\"", "+ data.c: \"z\""]
        );
    }

    #[test]
    fn plain_objects_show_values_and_quote_odd_keys() {
        let live = json!({"kind":"ConfigMap","apiVersion":"v1","data":{"tls.crt":"a"}});
        let merged = json!({"kind":"ConfigMap","apiVersion":"v1","data":{"tls.crt":"b"}});
        assert_eq!(
            changes(&pair(Some(live.clone()), merged.clone(), false), false),
            ["~ data[\"tls.crt\"]: \"a\" -> \"b\""]
        );
        assert_eq!(
            changes(&pair(Some(live), merged, true), false),
            ["~ data[\"tls.crt\"]: *** -> ***"]
        );
    }

    #[test]
    fn no_change_is_empty() {
        let o = json!({"apiVersion":"v1","kind":"Secret","metadata":{"name":"db","managedFields":[1]},"data":{"a":"eA=="}});
        assert!(changes(&pair(Some(o.clone()), o, false), false).is_empty());
    }
}

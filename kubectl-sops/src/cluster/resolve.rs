//! From an object to its API endpoint: API discovery per group/version/kind (one request per kind,
//! cached), the namespace rules of kubectl, and errors worded like kubectl's.

use std::collections::HashMap;

use futures::stream::{self, StreamExt};
use kube::api::{Api, DynamicObject, PatchParams};
use kube::core::GroupVersionKind;
use kube::discovery::{self, ApiResource, Scope};
use serde_json::Value as Json;

use super::connect::Cluster;
use super::objects;

/// Requests in flight at once.
pub const CONCURRENCY: usize = 8;

/// Where an object goes.
#[derive(Clone)]
pub struct Endpoint {
    /// The API resource (group, version, plural).
    pub resource: ApiResource,
    /// Namespaced or cluster-scoped.
    pub namespaced: bool,
}

/// Why a kind cannot be reached.
#[derive(Clone, Debug)]
pub enum Unresolved {
    /// The server does not serve the kind (CRD not installed, typo).
    NoMatch(String),
    /// The server could not be reached at all.
    Unreachable(String),
    /// Any other answer of the server.
    Other(String),
}

impl std::fmt::Display for Unresolved {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Unresolved::NoMatch(m) | Unresolved::Unreachable(m) | Unresolved::Other(m) => {
                f.write_str(m)
            }
        }
    }
}

/// Describes a kube error in one line: `Forbidden: …` for API answers, `unable to connect …` else.
pub fn describe(e: &kube::Error, server: &str) -> (bool, String) {
    match e {
        kube::Error::Api(s) => (
            false,
            format!(
                "{}: {}",
                non_empty(&s.reason, "Error"),
                collapse_whitespace(&s.message)
            ),
        ),
        other => (
            true,
            format!(
                "unable to connect to the server at {server}: {}",
                collapse_whitespace(&error_chain(other))
            ),
        ),
    }
}

fn non_empty<'a>(s: &'a str, default: &'a str) -> &'a str {
    if s.is_empty() {
        default
    } else {
        s
    }
}

fn collapse_whitespace(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut parts = vec![e.to_string()];
    let mut cur = e.source();
    while let Some(s) = cur {
        let t = s.to_string();
        if !parts.iter().any(|p| p.contains(&t)) {
            parts.push(t);
        }
        cur = s.source();
    }
    parts.join(": ")
}

/// Discovery results by `(apiVersion, kind)`.
#[derive(Default)]
pub struct Resolver {
    known: HashMap<(String, String), Result<Endpoint, Unresolved>>,
}

impl Resolver {
    /// Discovers every kind of `objs` not known yet, concurrently.
    pub async fn discover<'a>(&mut self, cluster: &Cluster, objs: impl Iterator<Item = &'a Json>) {
        let mut wanted: Vec<(String, String)> = Vec::new();
        for o in objs {
            let key = (
                objects::api_version(o).to_string(),
                objects::kind(o).to_string(),
            );
            if !self.known.contains_key(&key) && !wanted.contains(&key) {
                wanted.push(key);
            }
        }
        let found: Vec<_> = stream::iter(wanted)
            .map(|key| async move {
                let r = discover_one(cluster, &key.0, &key.1).await;
                (key, r)
            })
            .buffer_unordered(CONCURRENCY)
            .collect()
            .await;
        self.known.extend(found);
    }

    /// The API and namespace for `obj` (discovered before with [`Resolver::discover`]); sets
    /// `metadata.namespace` of a namespaced object that names none.
    pub fn api_for(
        &self,
        cluster: &Cluster,
        obj: &mut Json,
    ) -> Result<(Api<DynamicObject>, Option<String>), Unresolved> {
        let key = (
            objects::api_version(obj).to_string(),
            objects::kind(obj).to_string(),
        );
        let ep = match self.known.get(&key) {
            Some(Ok(ep)) => ep,
            Some(Err(e)) => return Err(e.clone()),
            None => return Err(Unresolved::Other("kind not discovered".into())),
        };
        if !ep.namespaced {
            return Ok((Api::all_with(cluster.client.clone(), &ep.resource), None));
        }
        let ns = match objects::namespace(obj) {
            Some(own) if cluster.namespace_forced && own != cluster.namespace => {
                return Err(Unresolved::Other(format!(
                    "the namespace from the provided object \"{own}\" does not match the namespace \"{}\". You must pass '--namespace={own}' to perform this operation.",
                    cluster.namespace
                )))
            }
            Some(own) => own.to_string(),
            None => cluster.namespace.clone(),
        };
        if let Some(meta) = obj.get_mut("metadata").and_then(Json::as_object_mut) {
            meta.insert("namespace".into(), Json::String(ns.clone()));
        }
        Ok((
            Api::namespaced_with(cluster.client.clone(), &ns, &ep.resource),
            Some(ns),
        ))
    }
}

async fn discover_one(
    cluster: &Cluster,
    api_version: &str,
    kind: &str,
) -> Result<Endpoint, Unresolved> {
    if api_version.is_empty() || kind.is_empty() {
        return Err(Unresolved::Other(
            "apiVersion and kind must be set".to_string(),
        ));
    }
    let (group, version) = match api_version.split_once('/') {
        Some((g, v)) => (g, v),
        None => ("", api_version),
    };
    let gvk = GroupVersionKind::gvk(group, version, kind);
    let no_match = || {
        Unresolved::NoMatch(format!(
            "no matches for kind \"{kind}\" in version \"{api_version}\" (is its CRD installed?)"
        ))
    };
    match discovery::pinned_kind(&cluster.client, &gvk).await {
        Ok((resource, caps)) => Ok(Endpoint {
            resource,
            namespaced: caps.scope == Scope::Namespaced,
        }),
        Err(kube::Error::Api(s)) if s.code == 404 => Err(no_match()),
        Err(kube::Error::Discovery(_)) => Err(no_match()),
        Err(e) => {
            let (unreachable, msg) = describe(&e, &cluster.server);
            Err(if unreachable {
                Unresolved::Unreachable(msg)
            } else {
                Unresolved::Other(msg)
            })
        }
    }
}

/// Server-side apply parameters for `field_manager`.
pub fn apply_params(field_manager: &str, force: bool, dry_run: bool) -> PatchParams {
    PatchParams {
        dry_run,
        force,
        field_manager: Some(field_manager.to_string()),
        field_validation: None,
    }
}

/// `secret/db (namespace ns) from FILE`, for messages.
pub fn label(display: &str, source: &str, ns: Option<&str>) -> String {
    match ns {
        Some(ns) => format!("{display} (namespace {ns}) from {source}"),
        None => format!("{display} from {source}"),
    }
}

/// Namespaces and CRDs, which go first so the rest can use them.
pub fn goes_first(o: &Json) -> bool {
    let (v, k) = (objects::api_version(o), objects::kind(o));
    (v == "v1" && k == "Namespace")
        || (objects::group_of(v) == "apiextensions.k8s.io" && k == "CustomResourceDefinition")
}

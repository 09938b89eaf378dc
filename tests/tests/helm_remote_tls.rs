//! Remote values over HTTPS with real Helm 3.21 and 4.2, as helm hands TLS settings on: the
//! wrapper honours `--ca-file`, `--cert-file`/`--key-file` (a server that demands a client
//! certificate) and `--insecure-skip-tls-verify` in both spellings; without them an unknown CA or
//! a missing client certificate is one line naming the URL and helm is not run. `HTTPS_PROXY`
//! carries the fetch through a `CONNECT` tunnel (wrapper, downloader and `helm secrets decrypt`),
//! and the downloader, which helm gives no TLS flags for values files, trusts `SSL_CERT_FILE`.

mod helm_support;

use std::path::Path;

use e2e_tests::need;
use e2e_tests::proxy::Proxy;
use helm_support::http_server::Server;
use helm_support::tls::{Pki, TlsFront, PROXIED_HOST};
use helm_support::{plugin_failure_line, Install, Setup};

struct Tls {
    s: Setup,
    pki: Pki,
    server: Server,
    /// HTTPS, any client.
    open: TlsFront,
    /// HTTPS, client certificate required.
    mutual: TlsFront,
    proxy: Proxy,
}

impl Tls {
    fn new(sops: &Path) -> Tls {
        let s = Setup::new(sops);
        let server = Server::start();
        server.put_files(&s.work(), &[("enc.yaml", "sops.enc.yaml")]);
        let pki = Pki::new(&s.path("pki"), PROXIED_HOST);
        let open = TlsFront::start(server.port(), &pki, false);
        let mutual = TlsFront::start(server.port(), &pki, true);
        Tls {
            s,
            pki,
            server,
            open,
            mutual,
            proxy: Proxy::start(),
        }
    }

    fn file(&self, name: &str) -> String {
        self.pki.file(name).display().to_string()
    }

    fn url(front: &TlsFront, host: &str) -> String {
        format!("https://{host}:{}/enc.yaml", front.port)
    }

    fn run(&self, helm: &Path, args: &[&str], env: &[(&str, &str)]) -> e2e_tests::Outcome {
        let mut r = self.s.runner(helm);
        for (k, v) in env {
            r = r.env(k, v);
        }
        r.run(args)
    }

    fn ok(&self, helm: &Path, args: &[&str], env: &[(&str, &str)]) -> String {
        let (code, out, err) = self.run(helm, args, env);
        assert_eq!(code, 0, "{} {args:?} exited {code}: {err}", helm.display());
        String::from_utf8(out).unwrap()
    }

    /// Non-zero, nothing on stdout, one `[helm-secrets]` line naming `url` and holding `word`.
    fn fails(&self, helm: &Path, args: &[&str], url: &str, word: &str) {
        let line = plugin_failure_line(self.run(helm, args, &[]), &[&self.s.token]);
        assert!(
            line.contains(url) && line.to_lowercase().contains(word),
            "{args:?}: want {url} and {word:?} in {line}"
        );
    }
}

fn check(t: &Tls, helm: &Path) {
    let s = &t.s;
    let plain = s.path("plain/values.yaml");
    let expected = s.helm_ok(
        helm,
        &["template", "r", "chart", "-f", plain.to_str().unwrap()],
    );
    assert!(expected.contains(&s.token) && !expected.contains("ENC["));
    let (ca, other_ca) = (t.file("ca.pem"), t.file("other-ca.pem"));
    let (cert, key) = (t.file("client.pem"), t.file("client.key"));
    let open = Tls::url(&t.open, "127.0.0.1");
    let mutual = Tls::url(&t.mutual, "127.0.0.1");
    let template = |url: &str, tail: &[&str]| -> Vec<String> {
        let mut a: Vec<String> = ["secrets", "template", "r", "chart", "-f", url]
            .map(String::from)
            .into();
        a.extend(tail.iter().map(|s| s.to_string()));
        a
    };

    // the server's CA, as a separate word and after `=`
    for tail in [
        vec!["--ca-file".to_string(), ca.clone()],
        vec![format!("--ca-file={ca}")],
    ] {
        let tail = strs(&tail);
        let args = template(&open, &tail);
        assert_eq!(t.ok(helm, &strs(&args), &[]), expected, "{args:?}");
    }
    // an unknown CA, and the wrong CA: helm is not run
    t.fails(helm, &strs(&template(&open, &[])), &open, "certificate");
    t.fails(
        helm,
        &strs(&template(&open, &["--ca-file", &other_ca])),
        &open,
        "certificate",
    );
    // no check at all
    for tail in [
        &["--insecure-skip-tls-verify"][..],
        &["--insecure-skip-tls-verify=true"],
    ] {
        assert_eq!(t.ok(helm, &strs(&template(&open, tail)), &[]), expected);
    }
    // a server that wants a client certificate
    t.fails(
        helm,
        &strs(&template(&mutual, &["--ca-file", &ca])),
        &mutual,
        "certificate",
    );
    let with_cert = template(
        &mutual,
        &["--ca-file", &ca, "--cert-file", &cert, "--key-file", &key],
    );
    assert_eq!(t.ok(helm, &strs(&with_cert), &[]), expected);
    let with_cert = template(
        &mutual,
        &[
            &format!("--cert-file={cert}"),
            &format!("--key-file={key}"),
            &format!("--ca-file={ca}"),
        ],
    );
    assert_eq!(t.ok(helm, &strs(&with_cert), &[]), expected);

    // a chart from a repository over the same TLS (`--repo`): `--ca-file` serves helm's chart
    // download and the plugin's values fetch alike
    let repo = s.path("repo");
    let repo_dir = repo.to_str().unwrap();
    let repo_url = format!("https://127.0.0.1:{}", t.open.port);
    s.helm_ok(helm, &["package", "chart", "-d", repo_dir]);
    s.helm_ok(helm, &["repo", "index", repo_dir, "--url", &repo_url]);
    for f in std::fs::read_dir(&repo).unwrap().flatten() {
        let name = f.file_name().into_string().unwrap();
        t.server.put(&name, std::fs::read(f.path()).unwrap());
    }
    let from_repo = [
        "secrets",
        "template",
        "r",
        "t",
        "--repo",
        &repo_url,
        "--ca-file",
        &ca,
        "-f",
        &open,
    ];
    assert_eq!(t.ok(helm, &from_repo, &[]), expected, "{from_repo:?}");

    // through a CONNECT proxy: `values.test` resolves nowhere but in the proxy
    let proxied = Tls::url(&t.open, PROXIED_HOST);
    let proxy = t.proxy.url();
    let via_proxy: &[(&str, &str)] = &[("HTTPS_PROXY", &proxy), ("SSL_CERT_FILE", &ca)];
    let before = t.proxy.targets().len();
    let got = t.ok(
        helm,
        &strs(&template(&proxied, &["--ca-file", &ca])),
        &[("HTTPS_PROXY", &proxy)],
    );
    assert_eq!(got, expected);
    // the downloader: helm passes no TLS flags for values files; the system roots are
    // `SSL_CERT_FILE`'s
    let getter_url = format!("secrets://{proxied}");
    let got = t.ok(
        helm,
        &["template", "r", "chart", "-f", &getter_url],
        via_proxy,
    );
    assert_eq!(got, expected);
    // `helm secrets decrypt URL` prints the plaintext
    let got = t.ok(helm, &["secrets", "decrypt", &proxied], via_proxy);
    assert!(got.contains(&s.token) && !got.contains("ENC["), "{got}");
    // an https:// proxy: TLS to the proxy, the values server's TLS inside the tunnel
    let tls_proxy = e2e_tests::tls::https_proxy_url(&t.proxy, &t.pki);
    let via_tls_proxy: &[(&str, &str)] = &[("HTTPS_PROXY", &tls_proxy), ("SSL_CERT_FILE", &ca)];
    let got = t.ok(helm, &["secrets", "decrypt", &proxied], via_tls_proxy);
    assert!(got.contains(&s.token) && !got.contains("ENC["), "{got}");
    let target = format!("{PROXIED_HOST}:{}", t.open.port);
    let tunnels = t.proxy.targets()[before..].to_vec();
    assert_eq!(tunnels, vec![target.clone(); 4], "CONNECT targets");
    // a SOCKS5 proxy: the values server's TLS inside the SOCKS tunnel
    let socks = e2e_tests::proxy::Proxy::start_socks5(None);
    let socks_url = socks.url();
    let via_socks: &[(&str, &str)] = &[("HTTPS_PROXY", &socks_url), ("SSL_CERT_FILE", &ca)];
    let got = t.ok(helm, &["secrets", "decrypt", &proxied], via_socks);
    assert!(got.contains(&s.token) && !got.contains("ENC["), "{got}");
    assert_eq!(socks.targets(), vec![target], "SOCKS5 targets");
    s.assert_no_plaintext_files();
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

/// [`check`] through `helm` (a peer name) with the plugins installed the
/// [usual way](Install::usual_for).
fn check_with(helm: &str) {
    let Some(v) = need(&[helm, "sops"]) else {
        return;
    };
    let t = Tls::new(&v[1]);
    t.s.install(&v[0], Install::usual_for(helm));
    check(&t, &v[0]);
}

#[test]
fn helm3_remote_values_over_https_and_a_proxy() {
    check_with("helm3");
}

#[test]
fn helm4_remote_values_over_https_and_a_proxy() {
    check_with("helm4");
}

//! A proxy on loopback for the tests of `HTTPS_PROXY`/`HTTP_PROXY`. As an HTTP proxy,
//! `CONNECT host:port` becomes a tunnel to 127.0.0.1:port and a plain request in absolute form
//! (`GET http://host:port/…`) goes to 127.0.0.1:port in origin form; as a SOCKS5 proxy (RFC 1928,
//! optionally with a user and password, RFC 1929), `CONNECT host:port` becomes a tunnel to
//! 127.0.0.1:port. Every target is noted, so a host that resolves nowhere (`vault.test`,
//! `values.test`) proves the proxy was used.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

/// The running proxy; it lives as long as the test process.
pub struct Proxy {
    /// The loopback port it listens on.
    pub port: u16,
    targets: Arc<Mutex<Vec<String>>>,
    /// `socks5://[user:password@]` or `http://`.
    prefix: String,
}

impl Proxy {
    /// Starts an HTTP proxy on a free loopback port.
    pub fn start() -> Proxy {
        Self::serve("http://".into(), relay)
    }

    /// Starts a SOCKS5 proxy on a free loopback port; with `login` (user and password as written
    /// in a URL, `%XX` escapes allowed), only that user and password get through.
    pub fn start_socks5(login: Option<(&str, &str)>) -> Proxy {
        let prefix = match login {
            Some((u, p)) => format!("socks5://{u}:{p}@"),
            None => "socks5://".into(),
        };
        let login = login.map(|(u, p)| (unescape(u), unescape(p)));
        Self::serve(prefix, move |c, seen| socks5(c, seen, login.as_ref()))
    }

    fn serve(
        prefix: String,
        handle: impl Fn(TcpStream, &Mutex<Vec<String>>) -> std::io::Result<()> + Clone + Send + 'static,
    ) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let targets: Arc<Mutex<Vec<String>>> = Arc::default();
        let seen = targets.clone();
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let (seen, handle) = (seen.clone(), handle.clone());
                std::thread::spawn(move || {
                    let _ = handle(client, &seen);
                });
            }
        });
        Proxy {
            port,
            targets,
            prefix,
        }
    }

    /// `http://127.0.0.1:PORT` (`socks5://[user:password@]127.0.0.1:PORT`), for
    /// `HTTPS_PROXY`/`HTTP_PROXY`.
    pub fn url(&self) -> String {
        format!("{}127.0.0.1:{}", self.prefix, self.port)
    }

    /// The `host:port` of every request so far.
    pub fn targets(&self) -> Vec<String> {
        self.targets.lock().unwrap().clone()
    }
}

/// Bytes up to and including the blank line that ends an HTTP request head.
pub fn read_head(r: &mut impl Read) -> std::io::Result<Vec<u8>> {
    let mut head = Vec::new();
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if r.read(&mut b)? == 0 || head.len() > 64 << 10 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        head.push(b[0]);
    }
    Ok(head)
}

fn relay(mut client: TcpStream, seen: &Mutex<Vec<String>>) -> std::io::Result<()> {
    let head = read_head(&mut client)?;
    let line = String::from_utf8_lossy(&head).into_owned();
    let mut words = line.split_whitespace();
    let (method, target) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
    let authority = if method == "CONNECT" {
        target.to_string()
    } else if let Some(rest) = target.strip_prefix("http://") {
        rest.split('/').next().unwrap_or("").to_string()
    } else {
        return client.write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
    };
    seen.lock().unwrap().push(authority.clone());
    let port: u16 = authority
        .rsplit_once(':')
        .and_then(|(_, p)| p.parse().ok())
        .unwrap_or(if method == "CONNECT" { 443 } else { 80 });
    let mut up = TcpStream::connect(("127.0.0.1", port))?;
    if method == "CONNECT" {
        client.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")?;
    } else {
        // to the origin in origin form, as proxies send it
        let path = target
            .trim_start_matches("http://")
            .find('/')
            .map_or("/", |i| &target["http://".len() + i..]);
        up.write_all(line.replacen(target, path, 1).as_bytes())?;
    }
    pipe(client, up)
}

/// One SOCKS5 connection: the greeting (user and password checked when `login` is set), then
/// `CONNECT` to a name, IPv4 or IPv6 address and port, tunnelled to 127.0.0.1:port.
fn socks5(
    mut client: TcpStream,
    seen: &Mutex<Vec<String>>,
    login: Option<&(Vec<u8>, Vec<u8>)>,
) -> std::io::Result<()> {
    let mut head = [0u8; 2];
    client.read_exact(&mut head)?;
    let mut methods = vec![0u8; usize::from(head[1])];
    client.read_exact(&mut methods)?;
    let wanted = if login.is_some() { 2 } else { 0 };
    if head[0] != 5 || !methods.contains(&wanted) {
        return client.write_all(&[5, 0xff]);
    }
    client.write_all(&[5, wanted])?;
    if let Some((user, pass)) = login {
        let field = |c: &mut TcpStream| -> std::io::Result<Vec<u8>> {
            let mut len = [0u8; 1];
            c.read_exact(&mut len)?;
            let mut v = vec![0u8; usize::from(len[0])];
            c.read_exact(&mut v)?;
            Ok(v)
        };
        let mut version = [0u8; 1];
        client.read_exact(&mut version)?;
        let (u, p) = (field(&mut client)?, field(&mut client)?);
        if (&u, &p) != (user, pass) {
            return client.write_all(&[1, 1]);
        }
        client.write_all(&[1, 0])?;
    }
    let mut req = [0u8; 4];
    client.read_exact(&mut req)?;
    let host = match req[3] {
        1 => {
            let mut a = [0u8; 4];
            client.read_exact(&mut a)?;
            std::net::Ipv4Addr::from(a).to_string()
        }
        4 => {
            let mut a = [0u8; 16];
            client.read_exact(&mut a)?;
            format!("[{}]", std::net::Ipv6Addr::from(a))
        }
        _ => {
            let mut len = [0u8; 1];
            client.read_exact(&mut len)?;
            let mut name = vec![0u8; usize::from(len[0])];
            client.read_exact(&mut name)?;
            String::from_utf8_lossy(&name).into_owned()
        }
    };
    let mut port = [0u8; 2];
    client.read_exact(&mut port)?;
    let port = u16::from_be_bytes(port);
    seen.lock().unwrap().push(format!("{host}:{port}"));
    let up = TcpStream::connect(("127.0.0.1", port))?;
    client.write_all(&[5, 0, 0, 1, 127, 0, 0, 1, 0, 0])?;
    pipe(client, up)
}

/// `%XX` escapes of a URL's user information decoded.
fn unescape(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = (b[i] == b'%')
            .then(|| std::str::from_utf8(b.get(i + 1..i + 3)?).ok())
            .flatten()
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match hex {
            Some(byte) => {
                out.push(byte);
                i += 3;
            }
            None => {
                out.push(b[i]);
                i += 1;
            }
        }
    }
    out
}

/// Copies both ways until each side has finished.
fn pipe(mut client: TcpStream, mut up: TcpStream) -> std::io::Result<()> {
    let (mut c2, mut u2) = (client.try_clone()?, up.try_clone()?);
    let upstream = std::thread::spawn(move || {
        let _ = std::io::copy(&mut c2, &mut u2);
        let _ = u2.shutdown(Shutdown::Write);
    });
    let _ = std::io::copy(&mut up, &mut client);
    let _ = client.shutdown(Shutdown::Write);
    let _ = upstream.join();
    Ok(())
}

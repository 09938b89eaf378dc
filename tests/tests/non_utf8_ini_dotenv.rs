//! Bytes that are not UTF-8 in INI and dotenv files (keys, values, section names, comments)
//! survive `seal` and `unseal` exactly as real sops 3.13.2 keeps them.

use e2e_tests::Env;

fn setup() -> Option<Env> {
    Some(Env::new().with_sops()?.key("gen_age_a"))
}

/// Every `ENC[...]` replaced by `ENC`, and the metadata lines dropped: the layout of a file.
fn layout(text: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for line in text.split(|b| *b == b'\n') {
        if line.starts_with(b"[sops]") || line.starts_with(b"sops_") {
            break;
        }
        let mut rest = line;
        while let Some(i) = rest.windows(4).position(|w| w == b"ENC[") {
            out.extend_from_slice(&rest[..i]);
            out.extend_from_slice(b"ENC");
            let end = rest[i..].iter().position(|b| *b == b']').unwrap();
            rest = &rest[i + end + 1..];
        }
        out.extend_from_slice(rest);
        out.push(b'\n');
    }
    out
}

const INI_BYTES: &[u8] = b"; c\xffomment at the top\n[sec\xfe]\nk\xfdey = va\xfcl\xe9ue\n# co\xffm2\nplain = x\n\n[ok]\n\xe9t\xe9 = caf\xe9\n";
const ENV_BYTES: &[u8] = b"#co\xffmment\nK\xfeEY=v\xfdal\nA=b\n# \xe9\xe9\nZ\xff=\xff\n";

/// INI keys, values, section names and comments and dotenv keys, values and comments
/// keep bytes that are not UTF-8 through `seal` and `unseal`, exactly as sops 3.13.2 does.
#[test]
fn non_utf8_ini_and_dotenv_bytes_survive_like_sops() {
    let Some(env) = setup() else { return };
    for (name, input, must_keep) in [
        (
            "b.ini",
            INI_BYTES,
            vec![
                &b"[sec\xfe]"[..],
                b"k\xfdey",
                b"va\xfcl\xe9ue",
                b"c\xffomment",
                b"co\xffm2",
                b"caf\xe9",
            ],
        ),
        (
            "b.env",
            ENV_BYTES,
            vec![
                &b"K\xfeEY=v\xfdal"[..],
                b"#co\xffmment",
                b"# \xe9\xe9",
                b"Z\xff=\xff",
            ],
        ),
    ] {
        env.write(name, input);
        let by_sops = env.sops().ok(["encrypt", "--age", env.recipient(), name]);
        let by_ours = env.ours().ok(["seal", "--age", env.recipient(), name]);
        let enc_sops = format!("sops.enc.{name}");
        let enc_ours = format!("ours.enc.{name}");
        env.write(&enc_sops, &by_sops);
        env.write(&enc_ours, &by_ours);
        // the same layout: key, section and comment bytes, alignment
        assert_eq!(
            String::from_utf8_lossy(&layout(&by_ours)),
            String::from_utf8_lossy(&layout(&by_sops)),
            "{name}: encrypted layout differs from sops"
        );
        let plain_sops = env.sops().ok(["decrypt", &enc_sops]);
        for (what, file) in [("sops", &enc_sops), ("ours", &enc_ours)] {
            let by_sops = env.sops().ok(["decrypt", file.as_str()]);
            let by_ours = env.ours().ok(["unseal", file.as_str()]);
            assert_eq!(
                by_sops, plain_sops,
                "{name}: sops decrypting the file by {what}"
            );
            assert_eq!(by_ours, plain_sops, "{name}: we decrypt the file by {what}");
        }
        for bytes in must_keep {
            assert!(
                plain_sops.windows(bytes.len()).any(|w| w == bytes),
                "{name}: {bytes:?} not kept"
            );
        }
        // and again: re-sealing the decrypted output gives the same bytes back
        env.write(&format!("again.{name}"), &plain_sops);
        let again = env
            .ours()
            .ok(["seal", "--age", env.recipient(), &format!("again.{name}")]);
        env.write(&format!("again.enc.{name}"), &again);
        assert_eq!(
            env.sops().ok(["decrypt", &format!("again.enc.{name}")]),
            plain_sops
        );
    }
}

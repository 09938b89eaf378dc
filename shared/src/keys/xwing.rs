//! X-Wing, the ML-KEM-768 + X25519 hybrid KEM (HPKE KEM id `0x647a`), as an [`hpke::Kem`].
//!
//! Only the glue lives here: ML-KEM-768 is RustCrypto `ml-kem`, X25519 is `x25519-dalek`, the seed
//! expansion and the combiner are `sha3` (SHAKE256, SHA3-256), and the HPKE key schedule, HKDF-SHA256
//! and ChaCha20-Poly1305 are the `hpke` crate's. Shared secret:
//! `SHA3-256(ss_M || ss_X || ct_X || pk_X || "\.//^\")`. An all-zero X25519 shared secret is refused
//! (decapsulation fails with [`HpkeError::DecapError`]).

use hpke::generic_array::typenum::{self, Unsigned, U32};
use hpke::kem::SharedSecret;
use hpke::{Deserializable, HpkeError, Serializable};
use ml_kem::kem::{Decapsulate, Encapsulate};
use ml_kem::{Ciphertext, EncodedSizeUser, KemCore, MlKem768};
use rand::{CryptoRng, RngCore};
use sha3::digest::{ExtendableOutput, FixedOutput, Update, XofReader};
use sha3::{Sha3_256, Shake256};
use x25519_dalek::{PublicKey as X25519Public, StaticSecret};
use zeroize::{Zeroize, Zeroizing};

/// The X-Wing combiner label `\.//^\`.
const LABEL: &[u8] = b"\\.//^\\";

type EncapsulationKey = <MlKem768 as KemCore>::EncapsulationKey;
type DecapsulationKey = <MlKem768 as KemCore>::DecapsulationKey;
type MlKemEkSize = <EncapsulationKey as EncodedSizeUser>::EncodedSize;
type MlKemCtSize = <MlKem768 as KemCore>::CiphertextSize;

/// Length of an encoded public key (ML-KEM-768 key || X25519 key).
pub const PUBLIC_KEY_LEN: usize = 1216;
/// Length of an encapsulation (ML-KEM-768 ciphertext || X25519 share).
pub const ENC_LEN: usize = 1120;
/// Length of a private key (the seed).
pub const SEED_LEN: usize = 32;

/// The X-Wing KEM.
pub struct XWing;

/// A private key: the 32-byte seed with the keys expanded from it.
#[derive(Clone)]
pub struct PrivateKey {
    seed: Zeroizing<[u8; SEED_LEN]>,
    dk_m: DecapsulationKey,
    sk_x: StaticSecret,
    pk_x: X25519Public,
}

impl PrivateKey {
    /// Expands a seed: SHAKE256(seed) gives ML-KEM's `d || z`, then the X25519 secret.
    pub fn from_seed(seed: &[u8; SEED_LEN]) -> Self {
        let mut expanded = Zeroizing::new([0u8; 96]);
        Shake256::default()
            .chain(seed)
            .finalize_xof()
            .read(&mut expanded[..]);
        let mut d = Zeroizing::new([0u8; 32]);
        let mut z = Zeroizing::new([0u8; 32]);
        let mut x = [0u8; 32];
        d.copy_from_slice(&expanded[..32]);
        z.copy_from_slice(&expanded[32..64]);
        x.copy_from_slice(&expanded[64..]);
        let (dk_m, _) = MlKem768::generate_deterministic(&(*d).into(), &(*z).into());
        let sk_x = StaticSecret::from(x);
        x.zeroize();
        let pk_x = X25519Public::from(&sk_x);
        PrivateKey {
            seed: Zeroizing::new(*seed),
            dk_m,
            sk_x,
            pk_x,
        }
    }

    /// The seed this key was expanded from.
    pub fn seed(&self) -> &[u8; SEED_LEN] {
        &self.seed
    }
}

impl PartialEq for PrivateKey {
    fn eq(&self, other: &Self) -> bool {
        use subtle::ConstantTimeEq;
        self.seed[..].ct_eq(&other.seed[..]).into()
    }
}
impl Eq for PrivateKey {}

impl Serializable for PrivateKey {
    type OutputSize = U32;

    fn write_exact(&self, buf: &mut [u8]) {
        buf.copy_from_slice(&self.seed[..]);
    }
}

impl Deserializable for PrivateKey {
    fn from_bytes(encoded: &[u8]) -> Result<Self, HpkeError> {
        let seed: &[u8; SEED_LEN] = encoded
            .try_into()
            .map_err(|_| HpkeError::IncorrectInputLength(SEED_LEN, encoded.len()))?;
        Ok(PrivateKey::from_seed(seed))
    }
}

/// A public key: ML-KEM-768 encapsulation key and X25519 point.
#[derive(Clone, Debug, PartialEq)]
pub struct PublicKey {
    ek_m: EncapsulationKey,
    pk_x: X25519Public,
}
impl Eq for PublicKey {}

impl Serializable for PublicKey {
    type OutputSize = typenum::Sum<MlKemEkSize, U32>;

    fn write_exact(&self, buf: &mut [u8]) {
        let n = MlKemEkSize::USIZE;
        buf[..n].copy_from_slice(&self.ek_m.as_bytes());
        buf[n..].copy_from_slice(self.pk_x.as_bytes());
    }
}

impl Deserializable for PublicKey {
    /// Checks the ML-KEM key is canonical (FIPS 203 modulus check) and the X25519 point is not of
    /// small order (it would make every encapsulation's X25519 secret zero).
    fn from_bytes(encoded: &[u8]) -> Result<Self, HpkeError> {
        if encoded.len() != PUBLIC_KEY_LEN {
            return Err(HpkeError::IncorrectInputLength(
                PUBLIC_KEY_LEN,
                encoded.len(),
            ));
        }
        let (m, x) = encoded.split_at(MlKemEkSize::USIZE);
        let m: &ml_kem::Encoded<EncapsulationKey> = m.try_into().expect("length checked");
        let ek_m = EncapsulationKey::from_bytes(m);
        if ek_m.as_bytes().as_slice() != m.as_slice() {
            return Err(HpkeError::ValidationError);
        }
        let x: [u8; 32] = x.try_into().expect("length checked");
        let pk_x = X25519Public::from(x);
        // clamped scalars are multiples of the cofactor: zero here means a small-order point
        if !StaticSecret::from([0x5a; 32])
            .diffie_hellman(&pk_x)
            .was_contributory()
        {
            return Err(HpkeError::ValidationError);
        }
        Ok(PublicKey { ek_m, pk_x })
    }
}

/// An encapsulation: ML-KEM-768 ciphertext and the ephemeral X25519 share.
#[derive(Clone)]
pub struct EncappedKey {
    ct_m: Ciphertext<MlKem768>,
    ct_x: [u8; 32],
}

impl Serializable for EncappedKey {
    type OutputSize = typenum::Sum<MlKemCtSize, U32>;

    fn write_exact(&self, buf: &mut [u8]) {
        let n = MlKemCtSize::USIZE;
        buf[..n].copy_from_slice(self.ct_m.as_slice());
        buf[n..].copy_from_slice(&self.ct_x);
    }
}

impl Deserializable for EncappedKey {
    fn from_bytes(encoded: &[u8]) -> Result<Self, HpkeError> {
        if encoded.len() != ENC_LEN {
            return Err(HpkeError::IncorrectInputLength(ENC_LEN, encoded.len()));
        }
        let (m, x) = encoded.split_at(MlKemCtSize::USIZE);
        Ok(EncappedKey {
            ct_m: Ciphertext::<MlKem768>::try_from(m).expect("length checked"),
            ct_x: x.try_into().expect("length checked"),
        })
    }
}

fn combine(
    ss_m: &[u8],
    ss_x: &[u8],
    ct_x: &[u8; 32],
    pk_x: &X25519Public,
) -> sha3::digest::Output<Sha3_256> {
    Sha3_256::default()
        .chain(ss_m)
        .chain(ss_x)
        .chain(ct_x)
        .chain(pk_x.as_bytes())
        .chain(LABEL)
        .finalize_fixed()
}

impl hpke::Kem for XWing {
    type PublicKey = PublicKey;
    type PrivateKey = PrivateKey;
    type EncappedKey = EncappedKey;
    type NSecret = U32;
    const KEM_ID: u16 = 0x647a;

    fn sk_to_pk(sk: &PrivateKey) -> PublicKey {
        PublicKey {
            ek_m: sk.dk_m.encapsulation_key().clone(),
            pk_x: sk.pk_x,
        }
    }

    /// X-Wing's `DeriveKeyPair`: the seed is SHAKE256(ikm, 32). (age never derives keys this way.)
    fn derive_keypair(ikm: &[u8]) -> (PrivateKey, PublicKey) {
        let mut seed = Zeroizing::new([0u8; SEED_LEN]);
        Shake256::default()
            .chain(ikm)
            .finalize_xof()
            .read(&mut seed[..]);
        let sk = PrivateKey::from_seed(&seed);
        let pk = Self::sk_to_pk(&sk);
        (sk, pk)
    }

    fn decap(
        sk: &PrivateKey,
        pk_sender_id: Option<&PublicKey>,
        enc: &EncappedKey,
    ) -> Result<SharedSecret<Self>, HpkeError> {
        if pk_sender_id.is_some() {
            return Err(HpkeError::DecapError); // X-Wing has no authenticated mode
        }
        let ss_m = sk
            .dk_m
            .decapsulate(&enc.ct_m)
            .map_err(|()| HpkeError::DecapError)?;
        let ss_x = sk.sk_x.diffie_hellman(&X25519Public::from(enc.ct_x));
        if !ss_x.was_contributory() {
            return Err(HpkeError::DecapError);
        }
        let ss = combine(&ss_m, ss_x.as_bytes(), &enc.ct_x, &sk.pk_x);
        Ok(SharedSecret(ss))
    }

    fn encap<R: CryptoRng + RngCore>(
        pk: &PublicKey,
        sender_id_keypair: Option<(&PrivateKey, &PublicKey)>,
        csprng: &mut R,
    ) -> Result<(SharedSecret<Self>, EncappedKey), HpkeError> {
        if sender_id_keypair.is_some() {
            return Err(HpkeError::EncapError);
        }
        let (ct_m, ss_m) = pk
            .ek_m
            .encapsulate(csprng)
            .map_err(|()| HpkeError::EncapError)?;
        let esk = StaticSecret::random_from_rng(&mut *csprng);
        let ct_x = X25519Public::from(&esk).to_bytes();
        let ss_x = esk.diffie_hellman(&pk.pk_x);
        if !ss_x.was_contributory() {
            return Err(HpkeError::EncapError);
        }
        let ss = combine(&ss_m, ss_x.as_bytes(), &ct_x, &pk.pk_x);
        Ok((SharedSecret(ss), EncappedKey { ct_m, ct_x }))
    }
}

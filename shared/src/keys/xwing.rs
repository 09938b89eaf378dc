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

#[cfg(test)]
mod tests {
    use super::*;
    use hpke::Kem;

    // First test vector of draft-connolly-cfrg-xwing-kem-08, appendix C (ML-KEM as in FIPS 203).
    const SEED: &str = "7f9c2ba4e88f827d616045507605853ed73b8093f6efbc88eb1a6eacfa66ef26";

    const PK: &str = concat!(
        "e2236b35a8c24b39b10aa1323a96a919a2ced88400633a7b07131713fc14b2b5b19cfc3da5fa1a92c49f25513e0fd30d",
        "6b1611c9ab9635d7086727a4b7d21d34244e66969cf15b3b2a785329f61b096b277ea037383479a6b556de7231fe4b7f",
        "a9c9ac24c0699a0018a5253401bacfa905ca816573e56a2d2e067e9b7287533ba13a937dedb31fa44baced4076992361",
        "0034ae31e619a170245199b3c5c39864859fe1b4c9717a07c30495bdfb98a0a002ccf56c1286cef5041dede3c44cf16b",
        "f562c7448518026b3d8b9940680abd38a1575fd27b58da063bfac32c39c30869374c05c1aeb1898b6b303cc68be45534",
        "6ee0af699636224a148ca2aea10463111c709f69b69c70ce8538746698c4c60a9aef0030c7924ceec42a5d36816f545e",
        "ae13293460b3acb37ea0e13d70e4aa78686da398a8397c08eaf96882113fe4f7bad4da40b0501e1c753efe73053c8701",
        "4e8661c33099afe8bede414a5b1aa27d8392b3e131e9a70c1055878240cad0f40d5fe3cdf85236ead97e2a97448363b2",
        "808caafd516cd25052c5c362543c2517e4acd0e60ec07163009b6425fc32277acee71c24bab53ed9f29e74c66a0a3564",
        "955998d76b96a9a8b50d1635a4d7a67eb42df5644d330457293a8042f53cc7a69288f17ed55827e82b28e82665a86a14",
        "fbd96645eca8172c044f83bc0d8c0b4c8626985631ca87af829068f1358963cb333664ca482763ba3b3bb208577f9ba6",
        "ac62c25f76592743b64be519317714cb4102cb7b2f9a25b2b4f0615de31decd9ca55026d6da0b65111b16fe52feed8a4",
        "87e144462a6dba93728f500b6ffc49e515569ef25fed17aff520507368253525860f58be3be61c964604a6ac814e6935",
        "596402a520a4670b3d284318866593d15a4bb01c35e3e587ee0c67d2880d6f2407fb7a70712b838deb96c5d7bf2b44bc",
        "f6038ccbe33fbcf51a54a584fe90083c91c7a6d43d4fb15f48c60c2fd66e0a8aad4ad64e5c42bb8877c0ebec2b5e387c",
        "8a988fdc23beb9e16c8757781e0a1499c61e138c21f216c29d076979871caa6942bafc090544bee99b54b16cb9a9a364",
        "d6246d9f42cce53c66b59c45c8f9ae9299a75d15180c3c952151a91b7a10772429dc4cbae6fcc622fa8018c63439f890",
        "630b9928db6bb7f9438ae4065ed34d73d486f3f52f90f0807dc88dfdd8c728e954f1ac35c06c000ce41a0582580e3bb5",
        "7b672972890ac5e7988e7850657116f1b57d0809aaedec0bede1ae148148311c6f7e317346e5189fb8cd635b986f8c0b",
        "dd27641c584b778b3a911a80be1c9692ab8e1bbb12839573cce19df183b45835bbb55052f9fc66a1678ef2a36dea7841",
        "1e6c8d60501b4e60592d13698a943b509185db912e2ea10be06171236b327c71716094c964a68b03377f513a05bcd99c",
        "1f346583bb052977a10a12adfc758034e5617da4c1276585e5774e1f3b9978b09d0e9c44d3bc86151c43aad185712717",
        "340223ac381d21150a04294e97bb13bbda21b5a182b6da969e19a7fd072737fa8e880a53c2428e3d049b7d2197405296",
        "ddb361912a7bcf4827ced611d0c7a7da104dde4322095339f64a61d5bb108ff0bf4d780cae509fb22c256914193ff734",
        "9042581237d522828824ee3bdfd07fb03f1f942d2ea179fe722f06cc03de5b69859edb06eff389b27dce598445702162",
        "23593d4ba32d9abac8cd049040ef6534",
    );

    const ESEED: &str = concat!(
        "3cb1eea988004b93103cfb0aeefd2a686e01fa4a58e8a3639ca8a1e3f9ae57e235b8cc873c23dc62b8d260169afa2f75",
        "ab916a58d974918835d25e6a435085b2",
    );

    const CT: &str = concat!(
        "b83aa828d4d62b9a83ceffe1d3d3bb1ef31264643c070c5798927e41fb07914a273f8f96e7826cd5375a283d7da88530",
        "4c5de0516a0f0654243dc5b97f8bfeb831f68251219aabdd723bc6512041acbaef8af44265524942b902e68ffd23221c",
        "da70b1b55d776a92d1143ea3a0c475f63ee6890157c7116dae3f62bf72f60acd2bb8cc31ce2ba0de364f52b8ed38c79d",
        "719715963a5dd3842d8e8b43ab704e4759b5327bf027c63c8fa857c4908d5a8a7b88ac7f2be394d93c3706ddd4e698cc",
        "6ce370101f4d0213254238b4a2e8821b6e414a1cf20f6c1244b699046f5a01caa0a1a55516300b40d2048c77cc73afba",
        "79afeea9d2c0118bdf2adb8870dc328c5516cc45b1a2058141039e2c90a110a9e16b318dfb53bd49a126d6b73f215787",
        "517b8917cc01cabd107d06859854ee8b4f9861c226d3764c87339ab16c3667d2f49384e55456dd40414b70a6af841585",
        "f4c90c68725d57704ee8ee7ce6e2f9be582dbee985e038ffc346ebfb4e22158b6c84374a9ab4a44e1f91de5aac5197f8",
        "9bc5e5442f51f9a5937b102ba3beaebf6e1c58380a4a5fedce4a4e5026f88f528f59ffd2db41752b3a3d90efabe46389",
        "9b7d40870c530c8841e8712b733668ed033adbfafb2d49d37a44d4064e5863eb0af0a08d47b3cc888373bc05f7a33b84",
        "1bc2587c57eb69554e8a3767b7506917b6b70498727f16eac1a36ec8d8cfaf751549f2277db277e8a55a9a5106b23a02",
        "06b4721fa9b3048552c5bd5b594d6e247f38c18c591aea7f56249c72ce7b117afcc3a8621582f9cf71787e183dee0936",
        "7976e98409ad9217a497df888042384d7707a6b78f5f7fb8409e3b535175373461b776002d799cbad62860be70573ecb",
        "e13b246e0da7e93a52168e0fb6a9756b895ef7f0147a0dc81bfa644b088a9228160c0f9acf1379a2941cd28c06ebc80e",
        "44e17aa2f8177010afd78a97ce0868d1629ebb294c5151812c583daeb88685220f4da9118112e07041fcc24d5564a99f",
        "dbde28869fe0722387d7a9a4d16e1cc8555917e09944aa5ebaaaec2cf62693afad42a3f518fce67d273cc6c9fb5472b3",
        "80e8573ec7de06a3ba2fd5f931d725b493026cb0acbd3fe62d00e4c790d965d7a03a3c0b4222ba8c2a9a16e2ac658f57",
        "2ae0e746eafc4feba023576f08942278a041fb82a70a595d5bacbf297ce2029898a71e5c3b0d1c6228b485b1ade509b3",
        "5fbca7eca97b2132e7cb6bc465375146b7dceac969308ac0c2ac89e7863eb8943015b24314cafb9c7c0e85fe543d5665",
        "8c213632599efabfc1ec49dd8c88547bb2cc40c9d38cbd3099b4547840560531d0188cd1e9c23a0ebee0a03d5577d66b",
        "1d2bcb4baaf21cc7fef1e03806ca96299df0dfbc56e1b2b43e4fc20c37f834c4af62127e7dae86c3c25a2f696ac8b589",
        "dec71d595bfbe94b5ed4bc07d800b330796fda89edb77be0294136139354eb8cd37591578f9c600dd9be8ec6219fdd50",
        "7adf3397ed4d68707b8d13b24ce4cd8fb22851bfe9d632407f31ed6f7cb1600de56f17576740ce2a32fc5145030145cf",
        "b97e63e0e41d354274a079d3e6fb2e15",
    );

    const SS: &str = "d2df0522128f09dd8e2c92b1e905c793d8f57a54c3da25861f10bf4ca613e384";

    /// Hands out fixed bytes: X-Wing's `eseed` is the ML-KEM message, then the X25519 ephemeral key,
    /// in the order our encapsulation draws them.
    struct Fixed(Vec<u8>);
    impl RngCore for Fixed {
        fn next_u32(&mut self) -> u32 {
            unimplemented!()
        }
        fn next_u64(&mut self) -> u64 {
            unimplemented!()
        }
        fn fill_bytes(&mut self, dest: &mut [u8]) {
            assert!(
                dest.len() <= self.0.len(),
                "the test vector's eseed is exhausted"
            );
            dest.copy_from_slice(&self.0[..dest.len()]);
            self.0.drain(..dest.len());
        }
        fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand::Error> {
            self.fill_bytes(dest);
            Ok(())
        }
    }
    impl CryptoRng for Fixed {}

    fn unhex(s: &str) -> Vec<u8> {
        hex::decode(s).unwrap()
    }

    #[test]
    fn draft_test_vector() {
        let seed: [u8; 32] = unhex(SEED).try_into().unwrap();
        let sk = PrivateKey::from_seed(&seed);
        let pk = XWing::sk_to_pk(&sk);
        assert_eq!(hex::encode(pk.to_bytes()), PK);
        assert_eq!(PublicKey::from_bytes(&unhex(PK)).unwrap(), pk);

        let (ss, enc) = XWing::encap(&pk, None, &mut Fixed(unhex(ESEED))).unwrap();
        assert_eq!(hex::encode(enc.to_bytes()), CT);
        assert_eq!(hex::encode(ss.0), SS);

        let enc = EncappedKey::from_bytes(&unhex(CT)).unwrap();
        let ss = XWing::decap(&sk, None, &enc).unwrap();
        assert_eq!(hex::encode(ss.0), SS);
    }

    #[test]
    fn all_zero_x25519_share_is_refused() {
        let sk = PrivateKey::from_seed(&[3; 32]);
        let mut ct = unhex(CT);
        ct[1088..].fill(0);
        let enc = EncappedKey::from_bytes(&ct).unwrap();
        assert!(matches!(
            XWing::decap(&sk, None, &enc),
            Err(HpkeError::DecapError)
        ));
    }

    #[test]
    fn non_canonical_ml_kem_key_is_refused() {
        let mut pk = unhex(PK);
        pk[0] = 0xff;
        pk[1] |= 0x0f; // first coefficient 0xfff >= q
        assert!(matches!(
            PublicKey::from_bytes(&pk),
            Err(HpkeError::ValidationError)
        ));
    }
}

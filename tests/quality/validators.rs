//! Property tests of the identifier validators (seeded, reproducible) and
//! the issue's resident-id vectors.

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use recon::pii::Validator;

/// ISO 7064 MOD 11-2 check character, computed independently of recon.
fn id_check_char(first17: &str) -> char {
    const W: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    let sum: u32 = first17.bytes().zip(W).map(|(b, w)| (b - b'0') as u32 * w).sum();
    b"10X98765432"[(sum % 11) as usize] as char
}

fn random_resident_id(rng: &mut ChaCha8Rng) -> String {
    const PROVINCES: [u32; 8] = [11, 31, 36, 44, 51, 61, 65, 81];
    let province = PROVINCES[rng.random_range(0..PROVINCES.len())];
    let area: u32 = rng.random_range(100..10_000);
    let start = chrono::NaiveDate::from_ymd_opt(1920, 1, 1).unwrap();
    let birth = start + chrono::Duration::days(rng.random_range(0..36_000));
    let seq: u32 = rng.random_range(0..1000);
    let first17 = format!("{province}{area:04}{}{seq:03}", birth.format("%Y%m%d"));
    format!("{first17}{}", id_check_char(&first17))
}

#[test]
fn property_resident_ids_with_a_changed_check_char_are_invalid() {
    let mut rng = ChaCha8Rng::seed_from_u64(4);
    let v = Validator::CnResidentId;
    for _ in 0..2000 {
        let id = random_resident_id(&mut rng);
        assert!(v.is_valid(&id), "{id}");
        let right = id.chars().last().unwrap();
        for c in "0123456789X".chars().filter(|&c| c != right) {
            let wrong = format!("{}{c}", &id[..17]);
            assert!(!v.is_valid(&wrong), "{wrong}");
        }
    }
}

#[test]
fn property_random_18_digit_numbers_are_mostly_invalid() {
    let mut rng = ChaCha8Rng::seed_from_u64(18);
    let n = 20_000;
    let valid = (0..n)
        .filter(|_| {
            let s: String = (0..18).map(|_| char::from(b'0' + rng.random_range(0..10u8))).collect();
            Validator::CnResidentId.is_valid(&s)
        })
        .count();
    // Only ~1 in 11 check characters, a fraction of region codes and of
    // dates survive: far below 1%.
    assert!(valid * 1000 < n, "{valid} of {n} random numbers passed");
}

fn luhn_digit(payload: &str) -> char {
    let sum: u32 = payload
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = (b - b'0') as u32;
            if i % 2 == 0 {
                let x = d * 2;
                if x > 9 {
                    x - 9
                } else {
                    x
                }
            } else {
                d
            }
        })
        .sum();
    char::from(b'0' + ((10 - sum % 10) % 10) as u8)
}

#[test]
fn property_luhn_valid_numbers_pass_at_every_length_13_to_19() {
    let mut rng = ChaCha8Rng::seed_from_u64(13);
    for len in 13..=19 {
        for _ in 0..300 {
            let mut payload: String = (0..len - 1)
                .map(|_| char::from(b'0' + rng.random_range(0..10u8)))
                .collect();
            if len == 19 {
                payload.replace_range(..2, "62"); // UnionPay
            }
            let card = format!("{payload}{}", luhn_digit(&payload));
            assert_eq!(card.len(), len);
            assert!(Validator::BankCard.is_valid(&card), "{card}");
            assert!(Validator::Luhn.is_valid(&card), "{card}");
            let last = card.as_bytes()[len - 1];
            let changed = format!("{payload}{}", char::from(b'0' + (last - b'0' + 1) % 10));
            assert!(!Validator::BankCard.is_valid(&changed), "{changed}");
        }
    }
    let short = format!("41111111111{}", luhn_digit("41111111111"));
    assert!(Validator::Luhn.is_valid(&short) && !Validator::BankCard.is_valid(&short));
}

#[test]
fn issue_vectors_for_resident_ids() {
    let v = Validator::CnResidentId;
    for ok in ["11010519491231002X", "360426199101010071", "44011320141005001X"] {
        assert!(v.is_valid(ok), "{ok}");
    }
    for bad in ["36042619910102009X", "360426199113010079", "990426199112010074"] {
        assert!(!v.is_valid(bad), "{bad}");
    }
}

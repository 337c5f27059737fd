//! Unit tests of the identifier validators: names and parse errors, each validator's vectors and checksums, hostile input.

use super::*;

fn luhn_complete(prefix: &str) -> String {
    (0..10u8)
        .map(|d| format!("{prefix}{}", char::from(b'0' + d)))
        .find(|s| luhn_ok(s.as_bytes()))
        .unwrap()
}

#[test]
fn names_round_trip() {
    assert_eq!(VALIDATOR_NAMES.len(), ALL.len());
    for (v, n) in ALL.iter().zip(VALIDATOR_NAMES) {
        assert_eq!(v.name(), *n);
        assert_eq!(Validator::parse(n).unwrap(), *v);
    }
    assert_eq!(Validator::parse(" CN_Mobile ").unwrap(), Validator::CnMobile);
}

#[test]
fn parse_error_lists_names_without_echo() {
    let err = Validator::parse("secret-13912345678").unwrap_err().to_string();
    assert!(err.contains("cn_resident_id_legacy"));
    assert!(err.contains("cn_uscc"));
    assert!(!err.contains("13912345678"));
    assert!(!err.contains("secret"));
}

#[test]
fn resident_id_vectors() {
    let v = Validator::CnResidentId;
    for ok in ["11010519491231002X", "360426199101010071", "44011320141005001X"] {
        assert!(v.is_valid(ok), "{ok}");
    }
    assert!(v.is_valid("11010519491231002x"));
    // bad check char
    assert!(!v.is_valid("36042619910102009X"));
    // month 13 (check char itself is correct)
    assert_eq!(cn_id_check_char(b"36042619911301007"), Some(b'9'));
    assert!(!v.is_valid("360426199113010079"));
    // region 99 (check char correct)
    assert_eq!(cn_id_check_char(b"99042619911201007"), Some(b'4'));
    assert!(!v.is_valid("990426199112010074"));
    // X in a non-final position / wrong lengths / junk
    assert!(!v.is_valid("1101051949123100X2"));
    assert!(!v.is_valid("11010519491231002"));
    assert!(!v.is_valid("11010519491231002XX"));
    assert!(!v.is_valid(""));
    assert!(!v.is_valid("１１０１０５１９４９１２３１００２X"));
}

fn with_check(first17: &str) -> String {
    let c = cn_id_check_char(first17.as_bytes()).unwrap();
    format!("{first17}{}", char::from(c))
}

#[test]
fn resident_id_dates() {
    let v = Validator::CnResidentId;
    // leap years
    assert!(v.is_valid(&with_check("11010520000229001")));
    assert!(!v.is_valid(&with_check("11010519000229001")));
    assert!(!v.is_valid(&with_check("11010520230229001")));
    assert!(v.is_valid(&with_check("11010519960229001")));
    // before 1900
    assert!(!v.is_valid(&with_check("11010518991231001")));
    assert!(v.is_valid(&with_check("11010519000101001")));
    // future
    assert!(!v.is_valid(&with_check("11010529991231001")));
    // day 00 / 32
    assert!(!v.is_valid(&with_check("11010519900100001")));
    assert!(!v.is_valid(&with_check("11010519900132001")));
    // all province codes listed are accepted, neighbours rejected
    for p in [
        "11", "15", "21", "23", "31", "37", "41", "46", "50", "54", "61", "65", "71", "81", "82", "83", "91",
    ] {
        assert!(v.is_valid(&with_check(&format!("{p}010519900101001"))), "{p}");
    }
    for p in [
        "10", "16", "20", "24", "30", "38", "40", "47", "49", "55", "60", "66", "70", "72", "80", "84", "90", "92",
        "00",
    ] {
        assert!(!v.is_valid(&with_check(&format!("{p}010519900101001"))), "{p}");
    }
}

#[test]
fn resident_id_legacy() {
    let strict = Validator::CnResidentId;
    let v = Validator::CnResidentIdOrLegacy;
    assert!(v.is_valid("110105491231002"));
    assert!(!strict.is_valid("110105491231002"));
    assert!(v.is_valid("11010519491231002X"));
    // 1900-02-29 does not exist (1900 is not a leap year)
    assert!(!v.is_valid("360426000229007"));
    assert!(v.is_valid("360426960229007"));
    assert!(!v.is_valid("360426911301007")); // month 13
    assert!(!v.is_valid("990426910101007")); // region
    assert!(!v.is_valid("36042691010100X"));
    assert!(!v.is_valid("3604269101010071"));
}

#[test]
fn mobile() {
    let v = Validator::CnMobile;
    for ok in ["13912345678", "+8613912345678", "19912345678", "14512345678"] {
        assert!(v.is_valid(ok), "{ok}");
    }
    for bad in [
        "12345678901",
        "10086100861",
        "1391234567",
        "139123456789",
        "8613912345678",
        "008613912345678",
        "+86 13912345678",
        "139-1234-5678",
        "+8612345678901",
        "+1391234567",
        "",
        "１３９１２３４５６７８",
    ] {
        assert!(!v.is_valid(bad), "{bad}");
    }
}

#[test]
fn luhn_and_bank_card() {
    assert!(Validator::Luhn.is_valid("18"));
    assert!(Validator::Luhn.is_valid("79927398713"));
    assert!(!Validator::Luhn.is_valid("79927398710"));
    assert!(!Validator::Luhn.is_valid("0"));
    assert!(!Validator::Luhn.is_valid(""));
    assert!(!Validator::Luhn.is_valid("7992 7398 713"));
    let b = Validator::BankCard;
    assert!(b.is_valid("4111111111111111"));
    assert!(b.is_valid("6212261234567890128"));
    assert!(!b.is_valid("6212261234567890123"));
    let up19 = luhn_complete("621226123456789012");
    assert_eq!(up19.len(), 19);
    assert!(b.is_valid(&up19));
    let c13 = luhn_complete("422222222222");
    assert!(b.is_valid(&c13));
    let c12 = luhn_complete("42222222222");
    assert!(Validator::Luhn.is_valid(&c12));
    assert!(!b.is_valid(&c12));
    let c20 = luhn_complete("6212261234567890123");
    assert!(Validator::Luhn.is_valid(&c20));
    assert!(!b.is_valid(&c20));
    assert!(!b.is_valid("4111-1111-1111-1111"));
}

#[test]
fn email() {
    let v = Validator::Email;
    for ok in [
        "alice@example.com",
        "a.b+tag@sub.example.co.uk",
        "13912345678@qq.com",
        "x_y-z@a-b.cn",
        "o'brien@example.ie",
    ] {
        assert!(v.is_valid(ok), "{ok}");
    }
    for bad in [
        "alice@example",
        "alice@example.c",
        "alice@example.c0m",
        "alice example@x.com",
        "alice@@example.com",
        "a@b@example.com",
        ".alice@example.com",
        "alice.@example.com",
        "al..ice@example.com",
        "alice@-example.com",
        "alice@example-.com",
        "alice@exa_mple.com",
        "alice@.example.com",
        "alice@example..com",
        "@example.com",
        "alice@",
        "",
        "用户@example.com",
        "alice@例子.com",
    ] {
        assert!(!v.is_valid(bad), "{bad}");
    }
    let long_local = format!("{}@example.com", "a".repeat(65));
    assert!(!v.is_valid(&long_local));
    let long_label = format!("a@{}.com", "b".repeat(64));
    assert!(!v.is_valid(&long_label));
}

#[test]
fn iban() {
    let v = Validator::Iban;
    for ok in [
        "DE89370400440532013000",
        "DE89 3704 0044 0532 0130 00",
        "GB82WEST12345698765432",
        "GB82 WEST 1234 5698 7654 32",
        "gb82 west 1234 5698 7654 32",
        "FR1420041010050500013M02606",
        "NL91ABNA0417164300",
        "NO9386011117947",
        "BE68539007547034",
        "ES9121000418450200051332",
        "IT60X0542811101000000123456",
        "CH9300762011623852957",
        "AT611904300234573201",
    ] {
        assert!(v.is_valid(ok), "{ok}");
    }
    for bad in [
        "GB82WEST12345698765431", // checksum
        "DE8937040044053201300",  // length for DE
        "XX89370400440532013000", // unknown country
        "DE89-3704-0044-0532-0130-00",
        "DE8937040044053201300O", // letter O
        "",
        "DE",
        "DEAB370400440532013000",
    ] {
        assert!(!v.is_valid(bad), "{bad}");
    }
    assert!(!v.is_valid(&"1".repeat(10_000)));
}

#[test]
fn uscc() {
    let v = Validator::CnUscc;
    assert!(v.is_valid("91350100M000100Y43"));
    assert!(v.is_valid("91350100m000100y43"));
    assert!(!v.is_valid("91350100M000100Y44"));
    assert!(!v.is_valid("91350100M000100Y4"));
    assert!(!v.is_valid("91350100I000100Y43")); // 'I' not in alphabet
    assert!(!v.is_valid("91350100M000100Y4Z"));
    assert!(!v.is_valid(""));
    // Find a body whose weighted sum is a multiple of 31: check value
    // 31 - 0 = 31 maps to '0'.
    let body = USCC_ALPHABET
        .iter()
        .map(|&c| format!("9111000010000000{}", char::from(c)))
        .find(|b| {
            let sum: u32 = b
                .bytes()
                .zip(USCC_WEIGHTS)
                .map(|(c, w)| uscc_index(c).unwrap() * w)
                .sum();
            sum % 31 == 0
        })
        .unwrap();
    assert!(v.is_valid(&format!("{body}0")));
    assert!(!v.is_valid(&format!("{body}Y")));
}

#[test]
fn hostile_inputs_do_not_panic() {
    let big = "9".repeat(1 << 16);
    let weird = [
        "\u{0}",
        "\u{202e}1391234567",
        "💳💳💳💳",
        "X",
        "@",
        "+86",
        "+",
        "é".repeat(9).as_str(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect::<Vec<_>>();
    for v in ALL {
        assert!(!v.is_valid(&big) || matches!(v, Validator::Luhn));
        for w in &weird {
            let _ = v.is_valid(w);
        }
    }
}

#[test]
fn province_codes_and_check_characters_need_digits_exactly() {
    assert!(is_cn_province_code(b'1', b'1') && is_cn_province_code(b'9', b'1'));
    assert!(!is_cn_province_code(b'1', b'0') && !is_cn_province_code(b'9', b'2'));
    // A byte just past `9` must not count as a digit worth ten (`1;` would
    // read as 21, a province).
    for (d0, d1) in [(b'1', b';'), (b';', b'1'), (b'/', b'1'), (b'1', b'/'), (b'A', b'1')] {
        assert!(!is_cn_province_code(d0, d1), "{}{}", d0 as char, d1 as char);
    }
    assert_eq!(cn_id_check_char(b"11010519491231002"), Some(b'X'));
    for first in [
        &b"1101051949123100"[..],
        b"110105194912310021",
        b"1101051949123100X",
        b"",
    ] {
        assert_eq!(cn_id_check_char(first), None, "{}", String::from_utf8_lossy(first));
    }
}

/// A valid domain of exactly `n` bytes (n ≥ 6): labels of up to 63 letters, then `.com`.
fn domain_of(n: usize) -> String {
    let mut d = String::new();
    while d.len() + 4 < n {
        if !d.is_empty() {
            d.push('.');
        }
        let room = (n - 4 - d.len()).min(63);
        // never leave room for an empty label
        let take = if n - 4 - d.len() - room == 1 { room - 1 } else { room };
        d.push_str(&"b".repeat(take));
    }
    d.push_str(".com");
    assert_eq!(d.len(), n, "{d}");
    d
}

#[test]
fn email_lengths_are_allowed_up_to_their_limits_and_not_beyond() {
    let label = |n: usize| format!("{}.com", "b".repeat(n));
    assert!(is_email_domain(label(63).as_bytes()));
    assert!(!is_email_domain(label(64).as_bytes()));
    assert!(is_email_domain(domain_of(253).as_bytes()));
    assert!(!is_email_domain(domain_of(254).as_bytes()));
    assert!(!is_email_domain(b""));
    assert!(is_email_local("a".repeat(64).as_bytes()));
    assert!(!is_email_local("a".repeat(65).as_bytes()));
    // 254 bytes in all is the most an address may have.
    let v = Validator::Email;
    let local = "a".repeat(64);
    assert!(v.is_valid(&format!("{local}@{}", domain_of(189))));
    assert!(!v.is_valid(&format!("{local}@{}", domain_of(190))));
    assert!(is_email_domain(domain_of(190).as_bytes()));
}

#[test]
fn an_iban_country_code_is_two_letters_of_the_registry_in_either_case() {
    let v = Validator::Iban;
    // Malta's has seven letters in a row (each letter adds two digits to the remainder).
    for ok in [
        "DE89370400440532013000",
        "de89370400440532013000",
        "dE89 3704 0044 0532 0130 00",
        "MT84MALT011000012345MTLCAST001S",
    ] {
        assert!(v.is_valid(ok), "{ok}");
    }
    // Check digits must be digits, even where a letter would pass mod 97.
    for bad in [
        "1E89370400440532013000",
        "D889370400440532013000",
        "ZZ89370400440532013000",
        "DET9370400440532013000",
        "DE8Y370400440532010000",
    ] {
        assert!(!v.is_valid(bad), "{bad}");
    }
}

//! Tests of the mask styles, the mask-shape audit (wrong masks both ways)
//! and the display mask.

use super::*;

#[test]
fn names_round_trip() {
    assert_eq!(ALL_STYLES.len(), MASK_STYLE_NAMES.len());
    for (s, n) in ALL_STYLES.iter().zip(MASK_STYLE_NAMES) {
        assert_eq!(s.name(), *n);
        assert_eq!(MaskStyle::parse(n).unwrap(), *s);
    }
    let err = MaskStyle::parse("13912345678").unwrap_err().to_string();
    assert!(err.contains("keep_last4"));
    assert!(!err.contains("13912345678"));
}

#[test]
fn apply_patterns() {
    let a = |s: MaskStyle, v: &str| s.apply(v).unwrap();
    assert_eq!(a(MaskStyle::Clear, "abc"), "abc");
    assert_eq!(a(MaskStyle::KeepLast4, "abcdef"), "**cdef");
    assert_eq!(a(MaskStyle::KeepLast4, "abcd"), "****");
    assert_eq!(a(MaskStyle::KeepLast4, "ab"), "**");
    assert_eq!(a(MaskStyle::KeepLast4, ""), "");
    assert_eq!(a(MaskStyle::KeepLast4, "张三丰先生"), "*三丰先生");
    assert_eq!(a(MaskStyle::Phone, "13912341234"), "139****1234");
    assert_eq!(a(MaskStyle::Phone, "+8613912341234"), "139****1234");
    assert_eq!(a(MaskStyle::Phone, "008613912341234"), "139****1234");
    assert_eq!(a(MaskStyle::Phone, "8613912341234"), "139****1234");
    assert_eq!(a(MaskStyle::Phone, "+86 139-1234-1234"), "139****1234");
    assert_eq!(a(MaskStyle::Phone, "010-12345678"), "010****5678");
    assert_eq!(a(MaskStyle::Phone, "010-1234567"), "*******4567");
    assert_eq!(a(MaskStyle::Phone, "12345"), "*2345");
    assert_eq!(a(MaskStyle::Card, "6222021234567894"), "622202******7894");
    assert_eq!(a(MaskStyle::Card, "6212261234567890128"), "621226*********0128");
    assert_eq!(a(MaskStyle::Card, "6222 0212 3456 7894"), "622202******7894");
    assert_eq!(a(MaskStyle::Card, "1234567"), "***4567");
    assert_eq!(a(MaskStyle::CnId, "11010519491231002X"), "110105********002X");
    assert_eq!(a(MaskStyle::CnId, "110105491231002"), "110105*****1002");
    assert_eq!(a(MaskStyle::CnId, "ABC"), "***");
    assert_eq!(a(MaskStyle::Full, "ab张"), "***");
    assert_eq!(MaskStyle::Token.apply("x"), None);
    assert_eq!(MaskStyle::Absent.apply("x"), None);
}

/// What a style's `apply` yields has its shape and reveals no more than
/// [`MaskStyle::revealed_chars`] — except, as [`MaskStyle::has_shape`]
/// documents, the `keep_last4` fallback of a value of another kind at a
/// length the style's own shape has, which the audit takes for an
/// over-masked value of the kind.
#[test]
fn apply_output_has_shape_but_for_the_documented_ambiguity() {
    let samples = [
        "",
        "a",
        "abcd",
        "abcde",
        "13912345678",
        "+86 139 1234 5678",
        "0086-139-1234-5678",
        "6212261234567890128",
        "6222 0212 3456 7894",
        "11010519491231002X",
        "110105491231002",
        "alice@example.com",
        "张三丰先生在此",
        "010-12345678",
        "010-1234567",
        "１３９１２３４５６７８",
        "6222 0212 3456",
        "4111111111111",
        "A1010519491231002X",
        "１１０１０５１９４９１２３１００２Ｘ",
    ];
    let mut ambiguous = Vec::new();
    for st in ALL_STYLES {
        for s in samples {
            if let Some(m) = st.apply(s) {
                if !st.has_shape(&m) {
                    assert!(keep_last4_shape(&m), "{} {s:?} -> {m:?}", st.name());
                    assert!(
                        matches!(
                            audit(&m, *st, None),
                            MaskVerdict::WrongMask(Deviation {
                                exposure: Exposure::Less,
                                ..
                            })
                        ),
                        "{} {s:?}",
                        st.name()
                    );
                    ambiguous.push((st.name(), s));
                }
                assert!(
                    m.chars().filter(|&c| c != '*').count() <= st.revealed_chars(s.chars().count()),
                    "{} {s:?}",
                    st.name()
                );
            }
        }
    }
    assert_eq!(
        ambiguous,
        [
            ("phone", "010-1234567"),
            ("card", "+86 139 1234 5678"),
            ("card", "6222 0212 3456"),
            ("cn_id", "0086-139-1234-5678"),
            ("cn_id", "A1010519491231002X"),
        ]
    );
}

#[test]
fn shapes() {
    assert!(MaskStyle::Phone.has_shape("139****1234"));
    assert!(!MaskStyle::Phone.has_shape("*******1234"), "an over-masked mobile");
    assert!(MaskStyle::Phone.has_shape("*****1234"), "keep_last4 of a 9-char value");
    assert!(!MaskStyle::Phone.has_shape("1391234****"));
    assert!(!MaskStyle::Phone.has_shape("139***1234"));
    assert!(!MaskStyle::Phone.has_shape("13912341234"));
    assert!(!MaskStyle::Phone.has_shape("１３９****1234"));
    assert!(MaskStyle::Card.has_shape("622202******7894"));
    assert!(MaskStyle::Card.has_shape("621226*********0128"));
    assert!(!MaskStyle::Card.has_shape("************7894"), "an over-masked card");
    assert!(
        MaskStyle::Card.has_shape("********7894"),
        "keep_last4 of a 12-char value"
    );
    assert!(!MaskStyle::Card.has_shape("6222********7894"));
    assert!(!MaskStyle::Card.has_shape("62220****7894"));
    assert!(MaskStyle::CnId.has_shape("110105********002X"));
    assert!(MaskStyle::CnId.has_shape("110105********002x"));
    assert!(MaskStyle::CnId.has_shape("110105*****1002"));
    assert!(!MaskStyle::CnId.has_shape("110105********0X21"));
    assert!(!MaskStyle::CnId.has_shape("11010519491231002X"));
    assert!(MaskStyle::Full.has_shape("*****"));
    assert!(!MaskStyle::Full.has_shape("****5"));
    assert!(MaskStyle::KeepLast4.has_shape("***"));
    assert!(!MaskStyle::KeepLast4.has_shape("abc"));
    assert!(MaskStyle::KeepLast4.has_shape("**cdef"));
    assert!(!MaskStyle::KeepLast4.has_shape("*bcdef"));
    assert!(!MaskStyle::KeepLast4.has_shape("***d*f"));
    assert!(MaskStyle::Token.has_shape(&"a1".repeat(32)));
    assert!(MaskStyle::Token.has_shape(&format!("tok_{}", "0f".repeat(16))));
    assert!(!MaskStyle::Token.has_shape(&"A1".repeat(32)));
    assert!(!MaskStyle::Token.has_shape(&format!("tok_{}", "0f".repeat(15))));
    assert!(!MaskStyle::Token.has_shape(""));
    assert!(MaskStyle::Absent.has_shape(""));
    assert!(!MaskStyle::Absent.has_shape("x"));
    assert!(MaskStyle::Clear.has_shape("anything"));
}

#[test]
fn revealed() {
    assert_eq!(MaskStyle::Clear.revealed_chars(11), 11);
    assert_eq!(MaskStyle::KeepLast4.revealed_chars(4), 0);
    assert_eq!(MaskStyle::KeepLast4.revealed_chars(5), 4);
    assert_eq!(MaskStyle::Phone.revealed_chars(11), 7);
    assert_eq!(MaskStyle::Card.revealed_chars(19), 10);
    assert_eq!(MaskStyle::CnId.revealed_chars(18), 10);
    assert_eq!(MaskStyle::Full.revealed_chars(18), 0);
    assert_eq!(MaskStyle::Token.revealed_chars(18), 0);
}

#[test]
fn audit_rules() {
    use MaskVerdict::*;
    let mob = Some(Validator::CnMobile);
    assert_eq!(audit("13912345678", MaskStyle::Clear, mob), Ok);
    assert_eq!(audit("13912345678", MaskStyle::Phone, mob), Unmasked);
    assert_eq!(audit("139 1234 5678", MaskStyle::Phone, mob), Unmasked);
    assert_eq!(audit("+86-139-1234-5678", MaskStyle::Phone, mob), Unmasked);
    assert_eq!(audit("139****5678", MaskStyle::Phone, mob), Ok);
    assert_eq!(
        audit("1391234****", MaskStyle::Phone, mob),
        wrong(Exposure::More, 11, 7, 7)
    );
    assert_eq!(audit("hello", MaskStyle::Phone, mob), wrong(Exposure::More, 5, 5, 4));
    assert_eq!(audit("hello", MaskStyle::Full, None), Unmasked);
    assert_eq!(audit("*****", MaskStyle::Full, None), Ok);
    assert_eq!(
        audit("139****5678", MaskStyle::Full, mob),
        wrong(Exposure::More, 11, 7, 0)
    );
    assert_eq!(audit("", MaskStyle::Absent, None), Ok);
    assert_eq!(audit("x", MaskStyle::Absent, None), Unmasked);
    assert_eq!(audit("***", MaskStyle::Absent, None), Unmasked);
    let card = Some(Validator::BankCard);
    assert_eq!(audit("6212261234567890128", MaskStyle::Card, card), Unmasked);
    assert_eq!(audit("6212-2612-3456-7890-128", MaskStyle::Card, card), Unmasked);
    assert_eq!(audit("621226*********0128", MaskStyle::Card, card), Ok);
    assert_eq!(
        audit("62122612345*****0128", MaskStyle::Card, card),
        wrong(Exposure::More, 20, 15, 4)
    );
    let id = Some(Validator::CnResidentId);
    assert_eq!(audit("11010519491231002X", MaskStyle::CnId, id), Unmasked);
    assert_eq!(audit("110105********002X", MaskStyle::CnId, id), Ok);
    assert_eq!(
        audit("1101051949****002X", MaskStyle::CnId, id),
        wrong(Exposure::More, 18, 14, 10)
    );
    let tok = format!("tok_{}", "ab".repeat(16));
    assert_eq!(audit(&tok, MaskStyle::Token, mob), Ok);
    assert_eq!(audit("13912345678", MaskStyle::Token, mob), Unmasked);
    assert_eq!(
        audit("139****5678", MaskStyle::Token, mob),
        wrong(Exposure::More, 11, 7, 0)
    );
}

fn wrong(exposure: Exposure, len: usize, visible: usize, policy_visible: usize) -> MaskVerdict {
    MaskVerdict::WrongMask(Deviation {
        exposure,
        len,
        visible,
        policy_visible,
    })
}

/// The exposure of `observed` under `policy` (`None`: not a wrong mask),
/// with its visible / policy counts.
fn exposure(observed: &str, policy: MaskStyle) -> Option<(Exposure, usize, usize)> {
    match audit(observed, policy, None) {
        MaskVerdict::WrongMask(d) => {
            assert_eq!(d.len, observed.chars().count());
            Some((d.exposure, d.visible, d.policy_visible))
        }
        _ => None,
    }
}

#[test]
fn wrong_mask_phone_both_directions() {
    use Exposure::*;
    let p = MaskStyle::Phone;
    assert_eq!(exposure("139****5678", p), None);
    // Over-masked: an 11-char mask ending in 4 ASCII digits is a mobile's.
    assert_eq!(exposure("*******5678", p), Some((Less, 4, 7)));
    assert_eq!(exposure("139*****678", p), Some((Less, 6, 7)));
    assert_eq!(exposure("***********", p), Some((Less, 0, 7)));
    // Under-masked, or showing what the policy hides.
    assert_eq!(exposure("1391234*678", p), Some((More, 10, 7)));
    assert_eq!(exposure("1391*******", p), Some((More, 4, 7)));
    assert_eq!(exposure("139****56789", p), Some((More, 8, 4)));
    // Where the policy shows, but not digits.
    assert_eq!(exposure("１３９****５６７８", p), Some((Other, 7, 7)));
    assert_eq!(exposure("abc****defg", p), Some((Other, 7, 7)));
    // keep_last4 of a value that is no mobile: what `phone` yields for it.
    for ok in [
        "",
        "***",
        "****",
        "*2345",
        "*****5678",
        "*******abcd",
        "*******５６７８",
        "********78ab",
    ] {
        assert_eq!(exposure(ok, p), None, "{ok}");
    }
    assert_eq!(p.apply("１３９１２３４５６７８").unwrap(), "*******５６７８");
}

#[test]
fn wrong_mask_card_both_directions() {
    use Exposure::*;
    let c = MaskStyle::Card;
    for n in 13..=19 {
        let shaped = format!("622202{}7894", "*".repeat(n - 10));
        assert_eq!(exposure(&shaped, c), None, "{shaped}");
        let kl4 = format!("{}7894", "*".repeat(n - 4));
        assert_eq!(exposure(&kl4, c), Some((Less, 4, 10)), "{kl4}");
        let stars = "*".repeat(n);
        assert_eq!(exposure(&stars, c), Some((Less, 0, 10)), "{stars}");
        let under = format!("62220212{}7894", "*".repeat(n - 12));
        assert_eq!(exposure(&under, c), Some((More, 12, 10)), "{under}");
    }
    assert_eq!(exposure("6222********7894", c), Some((Less, 8, 10)));
    assert_eq!(exposure("62220****7894", c), Some((Less, 9, 10)));
    assert_eq!(exposure("62220a******7894", c), Some((Other, 10, 10)));
    // Lengths no card mask has: keep_last4 is what `card` yields.
    for ok in ["********7894", "****************7894", "**************002X", "*"] {
        assert_eq!(exposure(ok, c), None, "{ok}");
    }
    assert_eq!(exposure("************", c), Some((Less, 0, 4)));
}

#[test]
fn wrong_mask_cn_id_both_directions() {
    use Exposure::*;
    let id = MaskStyle::CnId;
    assert_eq!(exposure("110108********1438", id), None);
    assert_eq!(exposure("110105*****1002", id), None);
    // Over-masked 18- and 15-char IDs.
    assert_eq!(exposure("**************8325", id), Some((Less, 4, 10)));
    assert_eq!(exposure("**************832X", id), Some((Less, 4, 10)));
    assert_eq!(exposure("**************832x", id), Some((Less, 4, 10)));
    assert_eq!(exposure("***********1002", id), Some((Less, 4, 10)));
    assert_eq!(exposure("******************", id), Some((Less, 0, 10)));
    assert_eq!(exposure("110108**********38", id), Some((Less, 8, 10)));
    assert_eq!(exposure("110108*******1002", id), Some((More, 10, 4)));
    // Under-masked.
    assert_eq!(exposure("1101081990****1438", id), Some((More, 14, 10)));
    assert_eq!(exposure("11010819900109****", id), Some((More, 14, 10)));
    assert_eq!(exposure("110108*****11438", id), Some((More, 11, 4)));
    assert_eq!(exposure("110105********0X21", id), Some((Other, 10, 10)));
    // keep_last4 of what is no ID: lengths or tails no ID has.
    for ok in [
        "*************8325",
        "***************8325",
        "**************X325",
        "**************８３２５",
        "***********100X",
        "",
    ] {
        assert_eq!(exposure(ok, id), None, "{ok}");
    }
}

#[test]
fn wrong_mask_keep_last4_full_token() {
    use Exposure::*;
    let k = MaskStyle::KeepLast4;
    assert_eq!(exposure("****5678", k), None);
    assert_eq!(exposure("********", k), Some((Less, 0, 4)));
    assert_eq!(exposure("*****678", k), Some((Less, 3, 4)));
    assert_eq!(exposure("***45678", k), Some((More, 5, 4)));
    assert_eq!(exposure("*b", k), Some((More, 1, 0)));
    assert_eq!(exposure("*三丰先生", k), None);
    assert_eq!(exposure("**丰先生", k), Some((Less, 3, 4)));
    assert_eq!(exposure("*丰先生", k), Some((More, 3, 0)), "4 chars: all `*`");
    assert_eq!(exposure("ab", k), None, "unmasked, not a wrong mask");
    let f = MaskStyle::Full;
    assert_eq!(exposure("****5", f), Some((More, 1, 0)));
    assert_eq!(exposure("", f), None);
    let t = MaskStyle::Token;
    assert_eq!(exposure("139****5678", t), Some((More, 7, 0)));
    assert_eq!(exposure("*****", t), Some((Other, 0, 0)));
    assert_eq!(audit("*****", MaskStyle::Absent, None), MaskVerdict::Unmasked);
    assert_eq!(audit("1*3", MaskStyle::Clear, None), MaskVerdict::Ok);
}

#[test]
fn visible_in_a_mask_of_n_chars() {
    let v = |s: MaskStyle, n| s.visible_in_mask(n);
    assert_eq!(v(MaskStyle::Phone, 11), 7);
    assert_eq!(v(MaskStyle::Phone, 12), 4);
    assert_eq!(v(MaskStyle::Phone, 4), 0);
    assert_eq!(v(MaskStyle::Card, 12), 4);
    assert_eq!(v(MaskStyle::Card, 13), 10);
    assert_eq!(v(MaskStyle::Card, 19), 10);
    assert_eq!(v(MaskStyle::Card, 20), 4);
    assert_eq!(v(MaskStyle::CnId, 15), 10);
    assert_eq!(v(MaskStyle::CnId, 16), 4);
    assert_eq!(v(MaskStyle::CnId, 18), 10);
    assert_eq!(v(MaskStyle::KeepLast4, 0), 0);
    assert_eq!(v(MaskStyle::Full, 18), 0);
    assert_eq!(v(MaskStyle::Token, 64), 0);
    assert_eq!(v(MaskStyle::Clear, 9), 9);
}

#[test]
fn contradiction() {
    assert!(!contradicts("139****5678", "13912345678"));
    assert!(contradicts("139****5679", "13912345678"));
    assert!(!contradicts("139****5678", "+86 139 1234 5678"));
    assert!(!contradicts("139****5678", "008613912345678"));
    assert!(!contradicts("*******5678", "139-1234-5678"));
    assert!(!contradicts("110105********002X", "11010519491231002x"));
    assert!(contradicts("110105********002X", "11010519491231003X"));
    assert!(!contradicts("****5678", "13912345678"));
    assert!(contradicts("****5679", "13912345678"));
    assert!(!contradicts("********", "13912345678"));
    assert!(!contradicts(&"ab".repeat(32), "13912345678"));
    assert!(contradicts("1*3*5", "13912345678"));
    assert!(!contradicts("", ""));
    assert!(!contradicts("张*丰", "张三丰"));
    assert!(contradicts("李*丰", "张三丰"));
}

#[test]
fn display_masks() {
    assert_eq!(display_mask("13912345678", Some(Validator::CnMobile)), "139****5678");
    assert_eq!(
        display_mask("+86 139 1234 5678", Some(Validator::CnMobile)),
        "139****5678"
    );
    assert_eq!(
        display_mask("6212261234567890128", Some(Validator::BankCard)),
        "621226*********0128"
    );
    assert_eq!(
        display_mask("6212261234567890128", Some(Validator::Luhn)),
        "621226*********0128"
    );
    assert_eq!(
        display_mask("11010519491231002X", Some(Validator::CnResidentIdOrLegacy)),
        "110105********002X"
    );
    assert_eq!(
        display_mask("alice@example.com", Some(Validator::Email)),
        "a***@example.com"
    );
    assert_eq!(display_mask("alice", Some(Validator::Email)), "*lice");
    assert_eq!(
        display_mask("DE89370400440532013000", Some(Validator::Iban)),
        "******************3000"
    );
    assert_eq!(display_mask("secret", None), "**cret");
    assert_eq!(display_mask("abc", None), "***");
    // already masked, reveals no more -> as is
    assert_eq!(display_mask("139****5678", Some(Validator::CnMobile)), "139****5678");
    assert_eq!(
        display_mask("a***@example.com", Some(Validator::Email)),
        "a***@example.com"
    );
    assert_eq!(display_mask("**cret", None), "**cret");
    // already masked but revealing too much -> re-masked
    assert_eq!(display_mask("1391234567*", Some(Validator::CnMobile)), "*******567*");
    assert_eq!(display_mask("*ecret", None), "**cret");
    assert_eq!(
        display_mask("alice@ex*mple.com", Some(Validator::Email)),
        "a***@ex*mple.com"
    );
}

#[test]
fn display_mask_never_returns_raw_valid_values() {
    let vals = [
        ("13912345678", Some(Validator::CnMobile)),
        ("6212261234567890128", Some(Validator::BankCard)),
        ("11010519491231002X", Some(Validator::CnResidentId)),
        ("DE89370400440532013000", Some(Validator::Iban)),
        ("91350100M000100Y43", Some(Validator::CnUscc)),
        ("13912345678", None),
    ];
    for (v, val) in vals {
        let m = display_mask(v, val);
        assert_ne!(m, v);
        assert_eq!(m.chars().count(), v.chars().count());
    }
}

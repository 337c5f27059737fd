//! Tests of the free-text scan: detector names, offsets, boundaries,
//! overlaps, hostile inputs and the labelled corpus.

use super::*;
use Detector::*;

fn dets(text: &str) -> Vec<(Detector, String)> {
    scan(text).into_iter().map(|h| (h.detector, h.masked)).collect()
}

fn one(text: &str, d: Detector, masked: &str) {
    assert_eq!(dets(text), vec![(d, masked.to_string())], "{text}");
}

#[test]
fn detector_names() {
    assert_eq!(CnMobile.name(), "cn_mobile");
    assert_eq!(CnResidentId.name(), "cn_resident_id");
    assert_eq!(BankCard.name(), "bank_card");
    assert_eq!(Email.name(), "email");
    assert_eq!(Iban.name(), "iban");
}

#[test]
fn offsets_are_in_chars_of_original() {
    let t = "电话１３９１２３４５６７８。卡6212261234567890128";
    let hits = scan(t);
    assert_eq!(hits.len(), 2);
    assert_eq!(hits[0].detector, CnMobile);
    assert_eq!(hits[0].char_offset, 2);
    assert_eq!(hits[0].char_len, 11);
    assert_eq!(hits[0].masked, "139****5678");
    assert_eq!(hits[1].detector, BankCard);
    assert_eq!(hits[1].char_offset, 15);
    assert_eq!(hits[1].char_len, 19);
    let chars: Vec<char> = t.chars().collect();
    let s: String = chars[15..34].iter().collect();
    assert_eq!(s, "6212261234567890128");

    let t = "Tel: +86 139-1234-5678";
    let h = scan(t);
    assert_eq!(h.len(), 1);
    assert_eq!((h[0].char_offset, h[0].char_len), (5, 17));
    // masked "never raw"
    assert!(!h[0].masked.contains("1234"));
}

#[test]
fn digit_boundaries() {
    assert!(scan("x139123456789y").is_empty());
    assert!(scan("913912345678").is_empty());
    assert!(scan("１13912345678").is_empty());
    // Mixed-width digits form one run.
    one("１3912345678", CnMobile, "139****5678");
    assert!(scan("13912345678１").is_empty());
    one("a13912345678b", CnMobile, "139****5678");
    // X followed by a digit cannot end an ID.
    assert!(scan("11010519491231002X5").iter().all(|h| h.detector != CnResidentId));
    one("11010519491231002Xab", CnResidentId, "110105********002X");
    // Seventeen digits are an ID only with their X, in the ID's own grouping.
    assert!(scan("11010519491231002 ab").iter().all(|h| h.detector != CnResidentId));
    assert!(scan("11010 519491231002X").iter().all(|h| h.detector != CnResidentId));
    one("110105 19491231 002X", CnResidentId, "110105********002X");
    assert!(scan("11010 5194912311006").iter().all(|h| h.detector != CnResidentId));
    one("110105 19491231 1006", CnResidentId, "110105********1006");
}

#[test]
fn only_full_width_digits_count_as_digits() {
    // 编 (U+7F16) is E7 BC 96 in UTF-8 and ０ (U+FF10) EF BC 90: their last
    // two bytes alike, only the second is a digit. Ten digits and 编 are
    // not a mobile number; ten digits and a full-width ６ are. (The ticket
    // number gets the text past the scan's precheck.)
    assert!(scan("工单 2231：请拨1391234567编号").is_empty());
    assert!(scan("工单 2231：请拨1391234567㼘号").is_empty());
    one("工单 2231：请拨1391234567６号", CnMobile, "139****5676");
}

#[test]
fn overlap_longer_wins() {
    one("13912345678@qq.com", Email, "1***@qq.com");
    one("+8613912345678", CnMobile, "139****5678");
    one("86 139 1234 5678", CnMobile, "139****5678");
    // ID beats a same-span card; the 17-digit card inside an X-ID loses.
    one("11010519491231002X", CnResidentId, "110105********002X");
}

#[test]
fn mixed_separators_rejected() {
    assert!(scan("139-1234 5678").is_empty());
    assert!(scan("6222 0212-3456 7894").is_empty());
    one("+86 139-1234-5678", CnMobile, "139****5678");
}

#[test]
fn iban_boundaries() {
    one("IBAN DE89370400440532013000.", Iban, "******************3000");
    assert!(scan("XDE89370400440532013000").is_empty());
    assert!(scan("DE893704004405320130001").is_empty());
    assert!(scan("de89370400440532013000").is_empty());
    one("DE89 3704 0044 0532 0130 00", Iban, "******************3000");
    assert!(scan("DE89 37040 044 0532 0130 00").is_empty());
    assert!(scan("dE89370400440532013000").is_empty());
    assert!(scan("DE89  3704 0044 0532 0130 00").is_empty());
    // nor one followed by a full-width digit
    assert!(scan("DE89370400440532013000１").is_empty());
}

#[test]
fn iin_filter() {
    assert!(card_iin_plausible(b"6212261234567890128"));
    assert!(card_iin_plausible(b"4111111111111111"));
    assert!(card_iin_plausible(b"378282246310005"));
    assert!(card_iin_plausible(b"5500000000000004"));
    assert!(card_iin_plausible(b"2221000000000009"));
    assert!(!card_iin_plausible(b"20261124083015123"));
    assert!(!card_iin_plausible(b"1234567890123456"));
    assert!(!card_iin_plausible(b"0013912345678"));
    assert!(!card_iin_plausible(b"411111111111111111"));
}

#[test]
fn hostile_inputs() {
    let long_digits = "1".repeat(100_000);
    assert!(scan(&long_digits).is_empty());
    let groups = "1 ".repeat(50_000);
    assert!(scan(&groups).is_empty());
    let ats = "a@".repeat(50_000);
    assert!(scan(&ats).is_empty());
    let mixed = "１２-".repeat(20_000);
    assert!(scan(&mixed).is_empty());
    let many = "13912345678 ".repeat(10_000);
    assert_eq!(scan(&many).len(), 10_000);
    for t in [
        "",
        "@",
        "1",
        "+",
        "\u{EF}",
        "\u{FF10}",
        "X",
        "AB12",
        "a@b",
        "\u{FFFF}\u{FF19}@",
    ] {
        let _ = scan(t);
    }
    // Truncated full-width digit byte sequences at the end.
    let _ = scan("13912345678\u{FF10}");
}

/// (text, expected (detector, masked) hits)
#[allow(clippy::type_complexity)]
const POSITIVES: &[(&str, &[(Detector, &str)])] = &[
    ("电话13912345678。", &[(CnMobile, "139****5678")]),
    ("请拨打 139 1234 5678 联系", &[(CnMobile, "139****5678")]),
    ("call 139-1234-5678 now", &[(CnMobile, "139****5678")]),
    ("Mobile: +86 139 1234 5678.", &[(CnMobile, "139****5678")]),
    ("wa +8613912345678", &[(CnMobile, "139****5678")]),
    ("拨0086-139-1234-5678", &[(CnMobile, "139****5678")]),
    ("8613912345678 是他的号码", &[(CnMobile, "139****5678")]),
    ("手机：１３９１２３４５６７８，谢谢", &[(CnMobile, "139****5678")]),
    ("Phone: (+86) 138-0013-8000", &[(CnMobile, "138****8000")]),
    ("tel:15800001111;", &[(CnMobile, "158****1111")]),
    (
        "电话是18612345678和13712345678",
        &[(CnMobile, "186****5678"), (CnMobile, "137****5678")],
    ),
    ("phone13912345678abc", &[(CnMobile, "139****5678")]),
    (
        "客户卡号6212261234567890128已核实",
        &[(BankCard, "621226*********0128")],
    ),
    ("card 6212 2612 3456 7890 128 exp", &[(BankCard, "621226*********0128")]),
    ("卡号：6222-0212-3456-7894", &[(BankCard, "622202******7894")]),
    ("Visa 4111111111111111.", &[(BankCard, "411111******1111")]),
    ("MC 5500 0000 0000 0004", &[(BankCard, "550000******0004")]),
    ("Amex 3782 822463 10005 ok", &[(BankCard, "378282*****0005")]),
    ("Card no. 6217-0012-3456-7890-122", &[(BankCard, "621700*********0122")]),
    (
        "卡号 ６２２８４８００１２３４５６７１ 请核对",
        &[(BankCard, "622848******5671")],
    ),
    ("身份证11010519491231002X办理", &[(CnResidentId, "110105********002X")]),
    ("ID: 360426199101010071", &[(CnResidentId, "360426********0071")]),
    ("证件号码 44011320141005001x", &[(CnResidentId, "440113********001X")]),
    (
        "身份证号：１１０１０５１９４９１２３１００２Ｘ",
        &[(CnResidentId, "110105********002X")],
    ),
    ("id 310101 19800101 123X.", &[(CnResidentId, "310101********123X")]),
    ("email alice@example.com please", &[(Email, "a***@example.com")]),
    ("邮箱zhang.san@mail.example.cn谢谢", &[(Email, "z***@mail.example.cn")]),
    ("联系13912345678@qq.com", &[(Email, "1***@qq.com")]),
    (
        "Contact bob.smith+crm@example.co.uk or 13912345678",
        &[(Email, "b***@example.co.uk"), (CnMobile, "139****5678")],
    ),
    ("IBAN DE89 3704 0044 0532 0130 00", &[(Iban, "******************3000")]),
    ("pay to GB82WEST12345698765432.", &[(Iban, "******************5432")]),
    (
        "virement FR1420041010050500013M02606",
        &[(Iban, "***********************2606")],
    ),
    ("Konto NL91ABNA0417164300 bitte", &[(Iban, "**************4300")]),
    (
        "账户CH93 0076 2011 6238 5295 7已冻结",
        &[(Iban, "*****************2957")],
    ),
    (
        "客户张三，电话13912345678，身份证510107198506153212，卡号6228480012345671",
        &[
            (CnMobile, "139****5678"),
            (CnResidentId, "510107********3212"),
            (BankCard, "622848******5671"),
        ],
    ),
];

const LOOKALIKES: &[&str] = &[
    "订单号 1234567890123456",
    "时间戳 20261124083015123",
    "ts=2026112408301512 ok",
    "编号12345678901",
    "客服10086100861",
    "身份证号 110105194912310021",
    "身份证号 110105194912310028",
    "证件 36042619910102009X",
    "生日 2026-11-24 08:30:15",
    "IBAN GB82WEST12345698765431",
    "account DE89370400440532013001",
    "mail alice@example",
    "a@b.c is not an address",
    "call 13912345678901 ext",
    "时间 ２０２６１１２４０８３０１５",
    "tel 139123456 / 1391234567",
    "US +1 391 234 5678",
    "Order 6222021234567895",
    "ISBN 978-7-111-12345-6",
    "快递单号 SF1234567890123",
    "邮编 100086 区号 010 分机 8888",
    "金额 13,912,345,678 元",
    "坐标 139.12345678, 39.9",
    "ref 4111-1111-1111-1112",
    "x62122612345678901280y",
    "流水 0013912345678",
    "号码 +86 123 4567 8901",
    "+13912345678",
    "version 11.0.13912 build 345678",
];

#[test]
fn labelled_corpus_recall_and_false_positives() {
    let mut expected = 0usize;
    let mut found = 0usize;
    let mut fps = 0usize;
    for (text, want) in POSITIVES {
        let got = dets(text);
        for (d, m) in *want {
            expected += 1;
            if got.iter().any(|(gd, gm)| gd == d && gm == m) {
                found += 1;
            } else {
                eprintln!("MISS {text:?}: want {d:?} {m}, got {got:?}");
            }
        }
        for (gd, gm) in &got {
            if !want.iter().any(|(d, m)| d == gd && m == gm) {
                fps += 1;
                eprintln!("EXTRA {text:?}: {gd:?} {gm}");
            }
        }
    }
    for text in LOOKALIKES {
        let got = dets(text);
        if !got.is_empty() {
            fps += got.len();
            eprintln!("FP {text:?}: {got:?}");
        }
    }
    let recall = found as f64 / expected as f64;
    println!(
        "corpus: {} positive snippets ({expected} expected hits), {} look-alikes; recall = {recall:.3}, false positives = {fps}",
        POSITIVES.len(),
        LOOKALIKES.len()
    );
    assert!(POSITIVES.len() >= 30);
    assert!(LOOKALIKES.len() >= 20);
    assert_eq!(found, expected);
    assert!((recall - 1.0).abs() < f64::EPSILON);
    assert_eq!(fps, 0);
}

#[test]
fn no_raw_values_in_hits() {
    for (text, _) in POSITIVES {
        for h in scan(text) {
            let chars: Vec<char> = text.chars().collect();
            let raw: String = chars[h.char_offset..h.char_offset + h.char_len].iter().collect();
            assert_ne!(raw, h.masked, "{text}");
            assert!(h.masked.contains('*'));
        }
    }
}

#[test]
#[ignore]
fn throughput() {
    let para = "The customer called on Tuesday about order 4471 and asked us to update the delivery \
                address; the agent confirmed the change, noted ticket 2231, and promised a follow-up \
                within 3 business days. 客户表示满意。 Contact via email or the callback queue. ";
    let pii = "Call 139 1234 5678 or mail alice@example.com, card 6212261234567890128. ";
    let mut text = String::new();
    let mut k = 0usize;
    while text.len() < 32 << 20 {
        text.push_str(para);
        k += 1;
        if k % 20 == 0 {
            text.push_str(pii);
        }
    }
    // Warm-up
    let hits = scan(&text);
    let iters = 5;
    let t0 = std::time::Instant::now();
    let mut total = 0usize;
    for _ in 0..iters {
        total += std::hint::black_box(scan(std::hint::black_box(&text))).len();
    }
    let secs = t0.elapsed().as_secs_f64();
    let mb = (text.len() * iters) as f64 / (1024.0 * 1024.0);
    println!(
        "scan throughput: {:.1} MiB/s ({} MiB x {iters}, {} hits/pass, {total} total)",
        mb / secs,
        text.len() >> 20,
        hits.len()
    );
    // Digit-dense log lines (timestamps, amounts, order numbers).
    let log = "2026-11-24 08:30:15.123 order=1234567890123456 amt=13,912.00 ts=20261124083015123 \
               user 4471 queue 12 ok\n"
        .repeat(300_000);
    let t0 = std::time::Instant::now();
    for _ in 0..iters {
        std::hint::black_box(scan(std::hint::black_box(&log)));
    }
    let secs = t0.elapsed().as_secs_f64();
    println!(
        "digit-dense log throughput: {:.1} MiB/s",
        (log.len() * iters) as f64 / (1024.0 * 1024.0) / secs
    );
    // Pure prose (digit-poor) where the pre-check short-circuits.
    let prose = "plain words only, no identifiers here at all. ".repeat(700_000);
    let t0 = std::time::Instant::now();
    for _ in 0..iters {
        std::hint::black_box(scan(std::hint::black_box(&prose)));
    }
    let secs = t0.elapsed().as_secs_f64();
    println!(
        "pre-check-only throughput: {:.1} MiB/s",
        (prose.len() * iters) as f64 / (1024.0 * 1024.0) / secs
    );
}

#[test]
fn an_email_address_leaves_out_the_dots_and_hyphens_around_it() {
    for (text, at) in [
        ("reply to ..alice@example.com please", 11),
        ("write to alice@example.com.", 9),
        ("write to alice@example.com-", 9),
        ("write to alice@example.com.- ok", 9),
    ] {
        let hits = scan(text);
        assert_eq!(hits.len(), 1, "{text}");
        assert_eq!(
            (hits[0].detector, hits[0].char_offset, hits[0].char_len),
            (Email, at, 17),
            "{text}"
        );
    }
    assert!(scan("mail ...@example.com").is_empty());
    // Far into a text: the 254-byte bound is on the address, not its offset.
    let far = format!("{} alice@example.com", "x".repeat(300));
    assert_eq!(scan(&far).len(), 1);
}

#[test]
fn a_card_is_grouped_in_fours_with_a_shorter_last_group_or_as_amex() {
    one("card 6212 2612 3456 7890 128 exp", BankCard, "621226*********0128");
    for text in [
        "card 62122 6123 4567 8901 28 exp",
        "card 6212 2612 3456 7890128 exp",
        "card 621 2261 2345 6789 0128 exp",
    ] {
        assert!(scan(text).iter().all(|h| h.detector != BankCard), "{text}");
    }
}

#[test]
fn a_mobile_number_may_carry_86_or_0086_in_front() {
    for text in [
        "008613912345678",
        "0086 13912345678",
        "0086 139 1234 5678",
        "8613912345678",
        "86 13912345678",
    ] {
        let hits = scan(text);
        assert_eq!(hits.len(), 1, "{text}");
        assert_eq!(
            (hits[0].detector, hits[0].char_offset, hits[0].char_len),
            (CnMobile, 0, text.chars().count()),
            "{text}"
        );
    }
    // Other prefixes are not a country code: the number alone, or nothing.
    assert!(scan("008713912345678").is_empty());
    assert!(scan("8713912345678").is_empty());
    let hits = scan("0087 13912345678");
    assert_eq!((hits.len(), hits[0].char_offset, hits[0].char_len), (1, 5, 11));
}

#[test]
fn card_iins_and_lengths() {
    let plausible = |d: &str| card_iin_plausible(d.as_bytes());
    let z = |prefix: &str, n: usize| format!("{prefix}{}", "0".repeat(n - prefix.len()));
    for (prefix, n) in [
        ("2200", 16),
        ("2221", 16),
        ("3528", 16),
        ("300", 14),
        ("36", 14),
        ("50", 13),
        ("56", 16),
        ("63", 13),
        ("67", 19),
        ("81", 16),
        ("90", 16),
    ] {
        assert!(plausible(&z(prefix, n)), "{prefix} {n}");
    }
    for (prefix, n) in [
        ("2210", 16),
        ("2205", 16),
        ("2221", 13),
        ("3527", 16),
        ("306", 14),
        ("36", 13),
        ("81", 15),
        ("90", 15),
    ] {
        assert!(!plausible(&z(prefix, n)), "{prefix} {n}");
    }
    assert!(!plausible("40") && !plausible(""));
}

//! The expression language's tokens and lexer: words, quoted names,
//! numbers, strings and operators, each with its byte range in the text.

use std::ops::Range;

use super::{fail, ExprError, Op};

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Tok {
    Ident(String),
    Quoted(String),
    Num(String),
    /// A duration such as `90d`: seconds, and the text as written.
    Duration(i64, String),
    Str(String),
    Op(Op),
    LParen,
    RParen,
    Comma,
    And,
    Or,
    Not,
    Is,
    Null,
    True,
    False,
    End,
}

impl Tok {
    pub(super) fn describe(&self) -> String {
        match self {
            Tok::Ident(s) | Tok::Quoted(s) => format!("`{s}`"),
            Tok::Num(s) => format!("number {s}"),
            Tok::Duration(_, s) => format!("duration {s}"),
            Tok::Str(_) => "a string".into(),
            Tok::Op(_) => "an operator".into(),
            Tok::LParen => "`(`".into(),
            Tok::RParen => "`)`".into(),
            Tok::Comma => "`,`".into(),
            Tok::And => "AND".into(),
            Tok::Or => "OR".into(),
            Tok::Not => "NOT".into(),
            Tok::Is => "IS".into(),
            Tok::Null => "NULL".into(),
            Tok::True => "TRUE".into(),
            Tok::False => "FALSE".into(),
            Tok::End => "the end of the expression".into(),
        }
    }
}

pub(super) fn lex(text: &str) -> Result<Vec<(Tok, Range<usize>)>, ExprError> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        let start = i;
        let tok = match c {
            b'(' => {
                i += 1;
                Tok::LParen
            }
            b')' => {
                i += 1;
                Tok::RParen
            }
            b',' => {
                i += 1;
                Tok::Comma
            }
            b'=' => {
                i += if b.get(i + 1) == Some(&b'=') { 2 } else { 1 };
                Tok::Op(Op::Eq)
            }
            b'!' if b.get(i + 1) == Some(&b'=') => {
                i += 2;
                Tok::Op(Op::Ne)
            }
            b'<' => match b.get(i + 1) {
                Some(b'=') => {
                    i += 2;
                    Tok::Op(Op::Le)
                }
                Some(b'>') => {
                    i += 2;
                    Tok::Op(Op::Ne)
                }
                _ => {
                    i += 1;
                    Tok::Op(Op::Lt)
                }
            },
            b'>' => {
                if b.get(i + 1) == Some(&b'=') {
                    i += 2;
                    Tok::Op(Op::Ge)
                } else {
                    i += 1;
                    Tok::Op(Op::Gt)
                }
            }
            b'\'' | b'"' | b'`' => {
                let q = c;
                let mut s = String::new();
                i += 1;
                loop {
                    match text[i..].find(q as char) {
                        None => return fail(start..text.len(), "unterminated quote", None),
                        Some(off) => {
                            s.push_str(&text[i..i + off]);
                            i += off + 1;
                            if b.get(i) == Some(&q) {
                                s.push(q as char);
                                i += 1;
                            } else {
                                break;
                            }
                        }
                    }
                }
                if q == b'\'' {
                    Tok::Str(s)
                } else {
                    Tok::Quoted(s)
                }
            }
            b'-' | b'+' | b'0'..=b'9' | b'.' => {
                i += 1;
                while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'.') {
                    i += 1;
                }
                let s = &text[start..i];
                let digits = s.trim_start_matches(['-', '+']);
                let ok = !digits.is_empty()
                    && digits.matches('.').count() <= 1
                    && !digits.starts_with('.')
                    && !digits.ends_with('.');
                if !ok {
                    return fail(start..i, format!("`{s}` is not a number"), None);
                }
                // Letters right after the digits: a duration (`90d`).
                if i < b.len() && b[i].is_ascii_alphabetic() {
                    while i < b.len() && b[i].is_ascii_alphanumeric() {
                        i += 1;
                    }
                    duration(&text[start..i], s.len(), start..i)?
                } else {
                    Tok::Num(s.to_string())
                }
            }
            c if c.is_ascii_alphabetic() || c == b'_' || c >= 0x80 => {
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_' || b[i] >= 0x80) {
                    i += 1;
                }
                let word = &text[start..i];
                match word.to_ascii_uppercase().as_str() {
                    "AND" => Tok::And,
                    "OR" => Tok::Or,
                    "NOT" => Tok::Not,
                    "IS" => Tok::Is,
                    "NULL" => Tok::Null,
                    "TRUE" => Tok::True,
                    "FALSE" => Tok::False,
                    _ => Tok::Ident(word.to_string()),
                }
            }
            _ => {
                let ch = text[i..].chars().next().unwrap_or('?');
                return fail(
                    start..start + ch.len_utf8(),
                    format!("unexpected character `{ch}`"),
                    Some(GRAMMAR_HINT.into()),
                );
            }
        };
        out.push((tok, start..i));
    }
    out.push((Tok::End, text.len()..text.len()));
    Ok(out)
}

/// A duration token: `digits` bytes of a whole number, then a unit.
fn duration(text: &str, digits: usize, at: Range<usize>) -> Result<Tok, ExprError> {
    let (count, unit) = text.split_at(digits);
    let unit_seconds: Option<i64> = match unit {
        "s" => Some(1),
        "m" => Some(60),
        "h" => Some(3_600),
        "d" => Some(86_400),
        "w" => Some(604_800),
        _ => None,
    };
    let whole = count.bytes().all(|c| c.is_ascii_digit());
    let total = unit_seconds
        .filter(|_| whole)
        .and_then(|u| count.parse::<i64>().ok()?.checked_mul(u));
    match total {
        Some(seconds) => Ok(Tok::Duration(seconds, text.to_string())),
        None => fail(
            at,
            format!("`{text}` is not a number or a duration"),
            Some("a duration is a whole number and a unit: s, m, h, d or w (e.g. 90d)".into()),
        ),
    }
}

pub(super) const GRAMMAR_HINT: &str =
    "expressions use fields, literals (1, 2.5, 'text', true, false, 90d), = != < <= > >=, IS [NOT] NULL, AND, OR, NOT, parentheses and the functions contains, any_of, all_of and age";

//! Tokenizer for the FHIRPath used by search-parameter expressions.

use super::FhirPathError;

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Token {
    /// A plain or backtick-delimited identifier (keywords such as `and` included).
    Ident(String),
    /// `$this`.
    This,
    /// `%resource`, `%context`, ...
    Env(String),
    Str(String),
    /// Digits with an optional fraction, kept as written.
    Num(String),
    Dot,
    Comma,
    LParen,
    RParen,
    LBracket,
    RBracket,
    LBrace,
    RBrace,
    /// An operator symbol: `=`, `!=`, `<`, `<=`, `>`, `>=`, `|`.
    Op(&'static str),
}

/// A token and the byte offset where it starts, for error messages.
pub(crate) type Spanned = (Token, usize);

pub(crate) fn tokenize(src: &str) -> Result<Vec<Spanned>, FhirPathError> {
    let mut out = Vec::new();
    let mut chars = src.char_indices().peekable();
    while let Some(&(at, c)) = chars.peek() {
        let single = match c {
            '.' => Some(Token::Dot),
            ',' => Some(Token::Comma),
            '(' => Some(Token::LParen),
            ')' => Some(Token::RParen),
            '[' => Some(Token::LBracket),
            ']' => Some(Token::RBracket),
            '{' => Some(Token::LBrace),
            '}' => Some(Token::RBrace),
            '=' => Some(Token::Op("=")),
            '|' => Some(Token::Op("|")),
            _ => None,
        };
        if let Some(token) = single {
            chars.next();
            out.push((token, at));
            continue;
        }
        if c.is_whitespace() {
            chars.next();
        } else if c == '!' || c == '<' || c == '>' {
            chars.next();
            let eq = matches!(chars.peek(), Some((_, '=')));
            if eq {
                chars.next();
            }
            let op = match (c, eq) {
                ('!', true) => "!=",
                ('<', false) => "<",
                ('<', true) => "<=",
                ('>', false) => ">",
                ('>', true) => ">=",
                _ => return Err(FhirPathError::syntax(at, "expected '=' after '!'")),
            };
            out.push((Token::Op(op), at));
        } else if c == '\'' {
            chars.next();
            out.push((Token::Str(quoted(&mut chars, '\'', at)?), at));
        } else if c == '`' {
            chars.next();
            out.push((Token::Ident(quoted(&mut chars, '`', at)?), at));
        } else if c == '$' || c == '%' {
            chars.next();
            let name = word(&mut chars);
            match (c, name.as_str()) {
                ('$', "this") => out.push((Token::This, at)),
                ('%', n) if !n.is_empty() => out.push((Token::Env(name), at)),
                _ => {
                    return Err(FhirPathError::syntax(
                        at,
                        format!("unsupported variable '{c}{name}'"),
                    ));
                }
            }
        } else if c.is_ascii_digit() {
            let mut num = String::new();
            while let Some(&(pos, d)) = chars.peek() {
                let fraction_dot = d == '.'
                    && !num.contains('.')
                    && src[pos + 1..].starts_with(|c: char| c.is_ascii_digit());
                if d.is_ascii_digit() || fraction_dot {
                    num.push(d);
                    chars.next();
                } else {
                    break;
                }
            }
            out.push((Token::Num(num), at));
        } else if c.is_alphabetic() || c == '_' {
            out.push((Token::Ident(word(&mut chars)), at));
        } else {
            return Err(FhirPathError::syntax(
                at,
                format!("unsupported character '{c}'"),
            ));
        }
    }
    Ok(out)
}

type Chars<'a> = std::iter::Peekable<std::str::CharIndices<'a>>;

fn word(chars: &mut Chars<'_>) -> String {
    let mut w = String::new();
    while let Some(&(_, c)) = chars.peek() {
        if c.is_alphanumeric() || c == '_' {
            w.push(c);
            chars.next();
        } else {
            break;
        }
    }
    w
}

fn quoted(chars: &mut Chars<'_>, close: char, start: usize) -> Result<String, FhirPathError> {
    let mut s = String::new();
    loop {
        match chars.next() {
            None => return Err(FhirPathError::syntax(start, "unterminated literal")),
            Some((_, c)) if c == close => return Ok(s),
            Some((at, '\\')) => {
                let escaped = match chars.next().map(|(_, e)| e) {
                    Some('n') => '\n',
                    Some('r') => '\r',
                    Some('t') => '\t',
                    Some('f') => '\u{c}',
                    Some(e @ ('\'' | '"' | '`' | '\\' | '/')) => e,
                    Some('u') => {
                        let hex: String = (0..4)
                            .filter_map(|_| chars.next().map(|(_, h)| h))
                            .collect();
                        u32::from_str_radix(&hex, 16)
                            .ok()
                            .and_then(char::from_u32)
                            .ok_or_else(|| FhirPathError::syntax(at, "bad \\u escape"))?
                    }
                    _ => return Err(FhirPathError::syntax(at, "bad escape")),
                };
                s.push(escaped);
            }
            Some((_, c)) => s.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(src: &str, expected: &str) {
        let actual = match tokenize(src) {
            Ok(tokens) => tokens
                .iter()
                .map(|(t, _)| format!("{t:?}"))
                .collect::<Vec<_>>()
                .join(" "),
            Err(e) => format!("error: {e}"),
        };
        assert_eq!(actual, expected, "tokenizing {src:?}");
    }

    #[test]
    fn tokens() {
        check("a | b", r#"Ident("a") Op("|") Ident("b")"#);
        check("x <= 1.5", r#"Ident("x") Op("<=") Num("1.5")"#);
        check(
            "a[1].b",
            r#"Ident("a") LBracket Num("1") RBracket Dot Ident("b")"#,
        );
        check("a != b", r#"Ident("a") Op("!=") Ident("b")"#);
        check(r"'it\'s'", r#"Str("it's")"#);
        check("%resource", r#"Env("resource")"#);
        check("'open", "error: at 0: unterminated literal");
        check("a ! b", "error: at 2: expected '=' after '!'");
        check("a # b", "error: at 2: unsupported character '#'");
    }
}

//! The little XML the agents print (metadata) and read (crm_mon output).

/// Escape text for an XML attribute or element.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// Undo `escape` (and numeric character references) in attribute values
/// read from Pacemaker's XML output.
pub fn unescape(s: &str) -> String {
    if !s.contains('&') {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        let Some(end) = rest.find(';') else { break };
        let ent = &rest[1..end];
        let rep = match ent {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ if ent.starts_with("#x") => u32::from_str_radix(&ent[2..], 16)
                .ok()
                .and_then(char::from_u32),
            _ if ent.starts_with('#') => ent[1..].parse().ok().and_then(char::from_u32),
            _ => None,
        };
        match rep {
            Some(c) => {
                out.push(c);
                rest = &rest[end + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Attributes of every element named `tag` in `xml`, in document order.
/// Enough for crm_mon/attrd_updater output, which is machine-generated,
/// attribute-only and has no CDATA; not a general XML parser.
pub fn elements(xml: &str, tag: &str) -> Vec<Vec<(String, String)>> {
    let mut out = Vec::new();
    let open = format!("<{tag}");
    let mut rest = xml;
    while let Some(i) = rest.find(&open) {
        rest = &rest[i + open.len()..];
        // `<node` must not match `<nodes`.
        if !rest.starts_with(|c: char| c.is_whitespace() || c == '/' || c == '>') {
            continue;
        }
        let end = rest.find('>').unwrap_or(rest.len());
        out.push(attributes(&rest[..end]));
        rest = &rest[end..];
    }
    out
}

pub fn attributes(s: &str) -> Vec<(String, String)> {
    let mut attrs = Vec::new();
    let mut rest = s;
    loop {
        rest = rest.trim_start();
        let Some(eq) = rest.find('=') else { break };
        let name = rest[..eq].trim().trim_start_matches('/').to_string();
        rest = rest[eq + 1..].trim_start();
        let Some(q) = rest.chars().next().filter(|c| *c == '"' || *c == '\'') else {
            break;
        };
        rest = &rest[1..];
        let Some(close) = rest.find(q) else { break };
        attrs.push((name, unescape(&rest[..close])));
        rest = &rest[close + 1..];
    }
    attrs
}

/// Value of attribute `name` in an attribute list from `elements`.
pub fn attr<'a>(attrs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    attrs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let s = "a<b>&\"c'";
        assert_eq!(unescape(&escape(s)), s);
        assert_eq!(unescape("x&#65;&#x42;y"), "xABy");
    }

    #[test]
    fn element_attributes() {
        let xml = r#"<nodes><node name="ctl1" online="true"/><node name='c&amp;1' type="remote" /></nodes>"#;
        let nodes = elements(xml, "node");
        assert_eq!(nodes.len(), 2);
        assert_eq!(attr(&nodes[0], "name"), Some("ctl1"));
        assert_eq!(attr(&nodes[1], "name"), Some("c&1"));
        assert_eq!(attr(&nodes[1], "type"), Some("remote"));
    }
}

//! Glance v2: an image's tags and custom properties, to decide whether
//! its servers are evacuable (`evacuable` tag or property).

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::Value;

use super::session::{encode_segment, Request, Session};
use crate::error::{Error, Result};

const SERVICE: &str = "image";

/// Top-level keys of a v2 image document that are Glance's own; every
/// other top-level key is a custom property (v2 flattens them).
const STANDARD_FIELDS: &[&str] = &[
    "id",
    "name",
    "status",
    "visibility",
    "protected",
    "os_hidden",
    "checksum",
    "os_hash_algo",
    "os_hash_value",
    "owner",
    "size",
    "virtual_size",
    "min_ram",
    "min_disk",
    "created_at",
    "updated_at",
    "tags",
    "self",
    "file",
    "schema",
    "disk_format",
    "container_format",
    "direct_url",
    "locations",
    "stores",
];

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Image {
    pub id: String,
    pub name: Option<String>,
    pub status: Option<String>,
    pub tags: Vec<String>,
    /// Custom properties; non-string values (rare) as JSON text.
    pub properties: BTreeMap<String, String>,
}

impl Image {
    pub fn has_tag(&self, tag: &str) -> bool {
        self.tags.iter().any(|t| t == tag)
    }

    /// Build from a v2 image document.
    pub fn from_document(doc: &Value) -> Option<Image> {
        let o = doc.as_object()?;
        let text = |k: &str| o.get(k).and_then(Value::as_str).map(str::to_string);
        let tags = o
            .get("tags")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|t| t.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        let properties = o
            .iter()
            .filter(|(k, _)| !STANDARD_FIELDS.contains(&k.as_str()))
            .filter_map(|(k, v)| match v {
                Value::String(s) => Some((k.clone(), s.clone())),
                Value::Null => None,
                other => Some((k.clone(), other.to_string())),
            })
            .collect();
        Some(Image {
            id: text("id")?,
            name: text("name"),
            status: text("status"),
            tags,
            properties,
        })
    }
}

/// Glance v2 client over a shared [`Session`].
#[derive(Debug, Clone)]
pub struct Glance {
    session: Arc<Session>,
}

impl Glance {
    pub fn new(session: Arc<Session>) -> Glance {
        Glance { session }
    }

    /// `GET /v2/images/{id}`; `Error::NotFound` when it does not exist (or
    /// is not visible to this project).
    pub fn get_image(&self, id: &str) -> Result<Image> {
        // Glance endpoints are registered unversioned (`:9292`), some with
        // `/v2`.
        let endpoint = self.session.endpoint(SERVICE)?;
        let prefix = if endpoint.trim_end_matches('/').ends_with("/v2") {
            ""
        } else {
            "/v2"
        };
        let req = Request::get(SERVICE, &format!("{prefix}/images/{}", encode_segment(id)));
        let resp = match self.session.request(req) {
            Ok(r) => r,
            Err(e) if e.http_status() == Some(404) => {
                return Err(Error::NotFound(format!("image {id} not found")))
            }
            Err(e) => return Err(e),
        };
        let doc: Value = resp.json()?;
        Image::from_document(&doc).ok_or_else(|| Error::BadResponse {
            service: SERVICE.into(),
            message: format!("GET image {id}: not an image document"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn custom_properties_are_the_non_standard_keys() {
        let doc: Value = serde_json::from_str(
            r#"{"id": "i1", "name": "cirros", "status": "active", "visibility": "public", "tags": ["evacuable", "x"],
                "size": 123, "min_disk": 0, "self": "/v2/images/i1", "file": "/v2/images/i1/file",
                "schema": "/v2/schemas/image", "hw_qemu_guest_agent": "yes", "evacuable": "true",
                "os_distro": "cirros", "numeric_prop": 5, "nothing": null, "os_hidden": false}"#,
        )
        .unwrap();
        let i = Image::from_document(&doc).unwrap();
        assert!(i.has_tag("evacuable") && !i.has_tag("evac"));
        assert_eq!(i.name.as_deref(), Some("cirros"));
        let keys: Vec<&str> = i.properties.keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "evacuable",
                "hw_qemu_guest_agent",
                "numeric_prop",
                "os_distro"
            ]
        );
        assert_eq!(i.properties["numeric_prop"], "5");
        assert!(Image::from_document(&serde_json::json!({"name": "no id"})).is_none());
    }
}

impl Glance {
    fn images_prefix(&self) -> Result<&'static str> {
        let endpoint = self.session.endpoint(SERVICE)?;
        Ok(if endpoint.trim_end_matches('/').ends_with("/v2") {
            ""
        } else {
            "/v2"
        })
    }

    /// Ids of images listed with `filter` (`tag=x` or `property=value`),
    /// following Glance's `next` links.
    fn list_ids(&self, filter: (&str, &str)) -> Result<Vec<String>> {
        let prefix = self.images_prefix()?;
        let mut ids = Vec::new();
        let mut marker: Option<String> = None;
        for _ in 0..10_000 {
            let mut req = Request::get(SERVICE, &format!("{prefix}/images"))
                .query(filter.0, filter.1)
                .query("limit", 1000);
            if let Some(m) = &marker {
                req = req.query("marker", m);
            }
            let doc: Value = self.session.request(req)?.json()?;
            let page: Vec<String> = doc
                .get("images")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|i| i.get("id").and_then(Value::as_str).map(str::to_string))
                        .collect()
                })
                .unwrap_or_default();
            let next = doc.get("next").and_then(Value::as_str).is_some();
            let last = page.last().cloned();
            ids.extend(page);
            match (next, last) {
                (true, Some(l)) if marker.as_deref() != Some(l.as_str()) => marker = Some(l),
                _ => break,
            }
        }
        Ok(ids)
    }

    /// Images marked evacuable either way the reference accepts: the tag
    /// `name`, or the property `name=true` (any case of "true").
    pub fn evacuable_images(&self, name: &str) -> Result<Vec<String>> {
        let mut ids = self.list_ids(("tag", name))?;
        for value in ["true", "True", "TRUE"] {
            for id in self.list_ids((name, value))? {
                if !ids.contains(&id) {
                    ids.push(id);
                }
            }
        }
        Ok(ids)
    }
}

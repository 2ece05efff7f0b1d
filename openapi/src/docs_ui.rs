//! The docs UI: Swagger UI, vendored into the binary (`utoipa-swagger-ui` with `vendored`), so
//! `/docs` works offline and loads nothing from a CDN.
//!
//! The page lives at `/docs` and its assets under `/docs/`; the page refers to them (and to
//! `/openapi.json`) by absolute path, so `/docs` and `/docs/` both work.

use std::borrow::Cow;
use std::sync::{Arc, LazyLock};

use utoipa_swagger_ui::Config;

/// One file of the docs UI.
#[derive(Debug, Clone)]
pub struct Asset {
    pub content_type: String,
    pub bytes: Cow<'static, [u8]>,
    /// Served with `Content-Encoding: gzip`.
    pub gzipped: bool,
}

static CONFIG: LazyLock<Arc<Config<'static>>> =
    LazyLock::new(|| Arc::new(Config::from("/openapi.json").try_it_out_enabled(true)));

static INDEX: LazyLock<Option<Asset>> = LazyLock::new(|| {
    let asset = load("index.html")?;
    let html = String::from_utf8_lossy(&asset.bytes).replace("\"./", "\"/docs/");
    Some(Asset {
        bytes: Cow::Owned(html.into_bytes()),
        ..asset
    })
});

static INITIALIZER: LazyLock<Option<Asset>> = LazyLock::new(|| load("swagger-initializer.js"));

fn load(file: &str) -> Option<Asset> {
    let file = utoipa_swagger_ui::serve(file, Arc::clone(&CONFIG)).ok()??;
    Some(Asset {
        content_type: file.content_type,
        bytes: Cow::Owned(file.bytes.into_owned()),
        gzipped: file.gzpipped,
    })
}

/// The file at `tail` below `/docs/` (`""` for the page itself), if there is one.
pub fn asset(tail: &str) -> Option<Asset> {
    match tail.trim_start_matches('/') {
        "" | "index.html" => INDEX.clone(),
        "swagger-initializer.js" => INITIALIZER.clone(),
        file => {
            let file = utoipa_swagger_ui::serve(file, Arc::clone(&CONFIG)).ok()??;
            Some(Asset {
                content_type: file.content_type,
                bytes: file.bytes,
                gzipped: file.gzpipped,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_and_assets_are_embedded() {
        let page = asset("").expect("index");
        let html = String::from_utf8_lossy(&page.bytes);
        assert!(
            page.content_type.starts_with("text/html"),
            "{}",
            page.content_type
        );
        assert!(html.contains("/docs/swagger-ui-bundle.js"), "{html}");
        assert!(
            !html.contains("http://") && !html.contains("https://unpkg"),
            "{html}"
        );
        let init = asset("swagger-initializer.js").expect("initializer");
        assert!(String::from_utf8_lossy(&init.bytes).contains("/openapi.json"));
        for file in ["swagger-ui-bundle.js", "swagger-ui.css", "index.css"] {
            assert!(asset(file).is_some_and(|a| !a.bytes.is_empty()), "{file}");
        }
        assert!(asset("nope.js").is_none());
    }
}

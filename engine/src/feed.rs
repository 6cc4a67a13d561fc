//! A podcast's RSS 2.0 feed (with Apple's `itunes:` namespace and the
//! Podcasting 2.0 `podcast:` one) and its episodes' JSON chapters files.
//! Everything in them comes from the project and the built files: no
//! clock, so a rebuild writes the same bytes, and an episode's GUID is
//! its ISRC or its place in the release, never a time.

use serde::Serialize;

/// What a feed says, all but each file's length and duration, which the
/// feed step reads from the built files.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FeedText {
    pub title: String,
    /// The show's page: the published version folder.
    pub link: String,
    pub description: String,
    pub language: Option<String>,
    pub author: Option<String>,
    pub copyright: Option<String>,
    pub explicit: bool,
    pub image: Option<String>,
    pub category: Option<String>,
    pub items: Vec<FeedItem>,
}

/// One episode.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FeedItem {
    pub title: String,
    pub guid: String,
    pub description: Option<String>,
    /// RFC 2822, as RSS 2.0 dates are written.
    pub published: Option<String>,
    pub url: String,
    pub mime: &'static str,
    pub episode: Option<u32>,
    pub season: Option<u32>,
    pub explicit: Option<bool>,
    /// The episode's JSON chapters file.
    pub chapters: Option<String>,
}

/// What the feed reads of an episode's built file.
#[derive(Debug, Clone, Copy)]
pub struct Enclosure {
    pub bytes: u64,
    pub seconds: f64,
}

/// Text for XML character data and attribute values.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // XML 1.0 has no place for other control characters.
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => {}
            c => out.push(c),
        }
    }
    out
}

/// A path in the version folder as a URL's path: each segment
/// percent-encoded (RFC 3986 §2.1), the separators kept.
pub fn url_path(path: &std::path::Path) -> String {
    let segments: Vec<String> = path
        .components()
        .map(|c| {
            let text = c.as_os_str().to_string_lossy();
            let mut out = String::new();
            for byte in text.bytes() {
                if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
                    out.push(byte as char);
                } else {
                    out.push_str(&format!("%{byte:02X}"));
                }
            }
            out
        })
        .collect();
    segments.join("/")
}

/// A date as RFC 2822 writes it (RSS 2.0 §5.1), at midnight UTC.
pub fn rfc2822((year, month, day): (i32, u32, u32)) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    // Days since 1970-01-01 (a Thursday), Howard Hinnant's days_from_civil.
    let y = if month <= 2 { year - 1 } else { year } as i64;
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = month as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + day as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    format!(
        "{}, {day:02} {} {year} 00:00:00 +0000",
        DAYS[days.rem_euclid(7) as usize],
        MONTHS[month as usize - 1]
    )
}

/// `itunes:duration` as H:MM:SS.
fn duration(seconds: f64) -> String {
    let s = seconds.round() as u64;
    format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}

impl FeedText {
    /// The feed, its items' lengths and durations those of `files`.
    pub fn render(&self, files: &[Enclosure]) -> String {
        let mut x = String::from(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
             <rss version=\"2.0\" xmlns:itunes=\"http://www.itunes.com/dtds/podcast-1.0.dtd\" \
             xmlns:podcast=\"https://podcastindex.org/namespace/1.0\">\n<channel>\n",
        );
        let mut line = |tag: &str, text: &str| {
            x.push_str(&format!("  <{tag}>{}</{tag}>\n", escape(text)));
        };
        line("title", &self.title);
        line("link", &self.link);
        line("description", &self.description);
        if let Some(language) = &self.language {
            line("language", language);
        }
        if let Some(copyright) = &self.copyright {
            line("copyright", copyright);
        }
        if let Some(author) = &self.author {
            line("itunes:author", author);
        }
        line(
            "itunes:explicit",
            if self.explicit { "true" } else { "false" },
        );
        if let Some(image) = &self.image {
            x.push_str(&format!("  <itunes:image href=\"{}\"/>\n", escape(image)));
        }
        if let Some(category) = &self.category {
            x.push_str(&format!(
                "  <itunes:category text=\"{}\"/>\n",
                escape(category)
            ));
        }
        for (item, file) in self.items.iter().zip(files) {
            x.push_str(&item.render(file));
        }
        x.push_str("</channel>\n</rss>\n");
        x
    }
}

impl FeedItem {
    fn render(&self, file: &Enclosure) -> String {
        let mut x = String::from("  <item>\n");
        let mut line = |tag: &str, text: &str| {
            x.push_str(&format!("    <{tag}>{}</{tag}>\n", escape(text)));
        };
        line("title", &self.title);
        if let Some(description) = &self.description {
            line("description", description);
        }
        if let Some(published) = &self.published {
            line("pubDate", published);
        }
        line("itunes:duration", &duration(file.seconds));
        if let Some(n) = self.episode {
            line("itunes:episode", &n.to_string());
        }
        if let Some(n) = self.season {
            line("itunes:season", &n.to_string());
        }
        if let Some(explicit) = self.explicit {
            line("itunes:explicit", if explicit { "true" } else { "false" });
        }
        line("itunes:episodeType", "full");
        x.push_str(&format!(
            "    <guid isPermaLink=\"false\">{}</guid>\n",
            escape(&self.guid)
        ));
        x.push_str(&format!(
            "    <enclosure url=\"{}\" length=\"{}\" type=\"{}\"/>\n",
            escape(&self.url),
            file.bytes,
            self.mime
        ));
        if let Some(chapters) = &self.chapters {
            x.push_str(&format!(
                "    <podcast:chapters url=\"{}\" type=\"application/json+chapters\"/>\n",
                escape(chapters)
            ));
        }
        x.push_str("  </item>\n");
        x
    }
}

/// A track's chapters as a Podcasting 2.0 JSON chapters file (version
/// 1.2.0 of its specification): each chapter's start in seconds, title
/// and link.
pub fn chapters_json(chapters: &[bounce_nodes::ChapterMark]) -> String {
    let list: Vec<serde_json::Value> = chapters
        .iter()
        .map(|c| {
            let mut chapter = serde_json::json!({ "startTime": c.start, "title": c.title });
            if let Some(url) = &c.url {
                chapter["url"] = url.clone().into();
            }
            chapter
        })
        .collect();
    let document = serde_json::json!({ "version": "1.2.0", "chapters": list });
    let mut text = serde_json::to_string_pretty(&document).expect("JSON of strings and numbers");
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_written_as_rfc_2822_says() {
        assert_eq!(rfc2822((1970, 1, 1)), "Thu, 01 Jan 1970 00:00:00 +0000");
        assert_eq!(rfc2822((2026, 12, 7)), "Mon, 07 Dec 2026 00:00:00 +0000");
        assert_eq!(rfc2822((2000, 2, 29)), "Tue, 29 Feb 2000 00:00:00 +0000");
    }

    #[test]
    fn paths_become_url_paths() {
        let path = std::path::Path::new("mp3/01 - Hello & Welcome.mp3");
        assert_eq!(url_path(path), "mp3/01%20-%20Hello%20%26%20Welcome.mp3");
        assert_eq!(escape("a<b & \"c\""), "a&lt;b &amp; &quot;c&quot;");
    }
}

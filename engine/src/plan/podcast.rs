//! A deliverable's feed: its tagged files as a podcast's episodes, each
//! with its chapters as a JSON file beside it, and the RSS feed that
//! lists them. The feed reads the files (their lengths and durations), so
//! it is made again exactly when a file or what the project says of the
//! show changes.

use super::*;
use crate::feed::{chapters_json, rfc2822, url_path, FeedItem, FeedText};

impl Planner {
    /// The feed of `deliverable`'s `episodes` (each its output's index in
    /// `claims` and its track), when it has one.
    pub(super) fn plan_feed(
        &mut self,
        project: &Project,
        deliverable: &Deliverable,
        episodes: &[(usize, &Track)],
        claims: &mut Claims,
    ) {
        let Some(feed) = &deliverable.feed else {
            return;
        };
        let mut items = Vec::new();
        let mut files = Vec::new();
        for (output, track) in episodes {
            let path = claims.outputs[*output].path.clone();
            files.push(claims.outputs[*output].step);
            let chapters = self
                .plan_chapters(deliverable, track, &path, claims)
                .map(|json| format!("{}{}", feed.base_url, url_path(&json)));
            items.push(episode(
                project,
                deliverable,
                track,
                &path,
                &feed.base_url,
                chapters,
            ));
        }
        let release = &project.release;
        let text = FeedText {
            title: release.title.clone(),
            link: feed.base_url.clone(),
            description: release
                .description
                .clone()
                .unwrap_or_else(|| release.title.clone()),
            language: release.language.clone(),
            author: release.artist.clone(),
            copyright: release.copyright.clone(),
            explicit: release.explicit.unwrap_or(false),
            image: feed.image.clone(),
            category: release.category.clone(),
            items,
        };
        let step = self.add(Step {
            id: format!("feed:{}", deliverable.name),
            kind: StepKind::Feed,
            track: None,
            action: Action::Feed { feed: text, files },
        });
        let values = release_values(project, deliverable, "xml");
        let path = match render(&feed.path, &values) {
            Ok(path) => path,
            Err(why) => {
                let error = ProjectDiagnostic::new(&deliverable.span, why).code(Code::BadTemplate);
                claims.errors.push(error);
                return;
            }
        };
        claim_whole_path(&path, deliverable, &mut claims.paths, &mut claims.errors);
        claims.outputs.push(PlannedOutput {
            step,
            deliverable: deliverable.name.clone(),
            track: None,
            path,
            isrc: None,
            codec: None,
        });
    }

    /// A track's chapters as JSON beside its file at `path`; the JSON's
    /// path, if the track has chapters.
    fn plan_chapters(
        &mut self,
        deliverable: &Deliverable,
        track: &Track,
        path: &Path,
        claims: &mut Claims,
    ) -> Option<PathBuf> {
        if track.chapters.is_empty() {
            return None;
        }
        let json = path.with_extension("chapters.json");
        let step = self.add(Step {
            id: format!("chapters:{}:{}", deliverable.name, track.number),
            kind: StepKind::Chapters,
            track: Some(track.number),
            action: Action::Text {
                text: chapters_json(&track.chapters),
            },
        });
        claim_whole_path(&json, deliverable, &mut claims.paths, &mut claims.errors);
        claims.outputs.push(PlannedOutput {
            step,
            deliverable: deliverable.name.clone(),
            track: Some(track.number),
            path: json.clone(),
            isrc: None,
            codec: None,
        });
        Some(json)
    }
}

/// What the feed says of one episode. Its GUID is its ISRC, else its
/// place in the release (the release's title and the track's number):
/// the same across rebuilds, so apps do not list an episode twice.
fn episode(
    project: &Project,
    deliverable: &Deliverable,
    track: &Track,
    path: &Path,
    base_url: &str,
    chapters: Option<String>,
) -> FeedItem {
    let guid = match &track.isrc {
        Some(isrc) => format!("urn:isrc:{isrc}"),
        None => {
            let identity = format!("{}\n{}", project.release.title, track.number);
            let hash = blake3::hash(identity.as_bytes()).to_hex();
            format!("bounce:{}", &hash[..32])
        }
    };
    FeedItem {
        title: track.title.clone(),
        guid,
        description: track.episode.description.clone(),
        published: track.date.map(rfc2822),
        url: format!("{base_url}{}", url_path(path)),
        mime: deliverable.format.kind.mime(),
        episode: track.episode.number,
        season: track.episode.season,
        explicit: track.episode.explicit,
        chapters,
    }
}

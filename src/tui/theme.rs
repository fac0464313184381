//! Themes by meaning (gitui's `style.rs`, spotify-player's `theme.rs`):
//! views ask `theme.title(focused)`, `theme.bad()`, never for a colour.
//! Themes are TOML files in `themes/` (built in: dark, light,
//! high-contrast); a user file names a `base` and overrides only the
//! colours it names. `NO_COLOR` turns colour off and keeps emphasis
//! (bold, reverse, underline).

use std::path::Path;
use std::str::FromStr;

use ratatui::style::{Color, Modifier, Style};
use serde::Deserialize;

/// The built-in themes, by name, as shipped in `themes/`.
pub const BUILT_IN: &[(&str, &str)] = &[
    ("dark", include_str!("../../themes/dark.toml")),
    ("light", include_str!("../../themes/light.toml")),
    (
        "high-contrast",
        include_str!("../../themes/high-contrast.toml"),
    ),
];

/// Why a theme could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ThemeError {
    /// Neither a built-in name nor a readable file.
    #[error(
        "no theme '{0}': use one of dark, light, high-contrast, or the path of a .toml file \
         (see themes/dark.toml for the keys)"
    )]
    Unknown(String),
    /// The file could not be read.
    #[error("cannot read theme file {path}")]
    Read {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not a valid theme.
    #[error("theme {origin}: {message}")]
    Invalid {
        /// File or built-in name.
        origin: String,
        /// What is wrong, with the key.
        message: String,
    },
}

macro_rules! palette {
    ($($field:ident),* $(,)?) => {
        /// Colours by meaning.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub struct Palette {
            $(
                #[allow(missing_docs)]
                pub $field: Color,
            )*
        }

        /// A theme file's `[colors]`: each key optional.
        #[derive(Debug, Default, Deserialize)]
        #[serde(deny_unknown_fields)]
        struct ColorOverrides {
            $($field: Option<String>,)*
        }

        impl ColorOverrides {
            fn apply(&self, palette: &mut Palette, origin: &str) -> Result<(), ThemeError> {
                $(
                    if let Some(text) = &self.$field {
                        palette.$field = parse_color(text).ok_or_else(|| ThemeError::Invalid {
                            origin: origin.to_owned(),
                            message: format!(
                                "colors.{}: '{}' is not a colour (a name like 'light-blue', \
                                 '#3b82f6', or an index 0-255)",
                                stringify!($field), text
                            ),
                        })?;
                    }
                )*
                Ok(())
            }
        }
    };
}

palette!(
    text,
    dim,
    accent,
    title,
    title_focused,
    border,
    border_focused,
    tab,
    tab_active,
    tab_active_bg,
    selection_fg,
    selection_bg,
    key,
    good,
    bad,
    warn,
    bar,
    chart,
    interval,
);

impl Palette {
    fn reset() -> Palette {
        let r = Color::Reset;
        Palette {
            text: r,
            dim: r,
            accent: r,
            title: r,
            title_focused: r,
            border: r,
            border_focused: r,
            tab: r,
            tab_active: r,
            tab_active_bg: r,
            selection_fg: r,
            selection_bg: r,
            key: r,
            good: r,
            bad: r,
            warn: r,
            bar: r,
            chart: r,
            interval: r,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ThemeFile {
    base: Option<String>,
    #[serde(default)]
    colors: ColorOverrides,
}

fn parse_color(text: &str) -> Option<Color> {
    let t = text.trim();
    if let Ok(index) = t.parse::<u8>() {
        return Some(Color::Indexed(index));
    }
    Color::from_str(t).ok()
}

/// A theme: a palette, or no colour at all (`NO_COLOR`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Theme {
    /// Its name (built-in name or file path).
    pub name: String,
    /// The colours.
    pub palette: Palette,
    /// False under `NO_COLOR`: styles use bold/reverse/underline only.
    pub color: bool,
}

impl Default for Theme {
    fn default() -> Theme {
        Theme::built_in("dark").unwrap_or(Theme {
            name: "dark".into(),
            palette: Palette::reset(),
            color: true,
        })
    }
}

impl Theme {
    /// A built-in theme by name.
    pub fn built_in(name: &str) -> Option<Theme> {
        let (_, text) = BUILT_IN.iter().find(|(n, _)| *n == name)?;
        Theme::from_toml(text, name, 0).ok()
    }

    /// A theme parsed from TOML text (`origin` names it in errors).
    pub fn from_toml(text: &str, origin: &str, depth: u8) -> Result<Theme, ThemeError> {
        let file: ThemeFile = toml::from_str(text).map_err(|e| ThemeError::Invalid {
            origin: origin.to_owned(),
            message: e.message().to_owned(),
        })?;
        let mut palette = match file.base.as_deref() {
            Some(base) if depth < 4 => {
                let (_, base_text) =
                    BUILT_IN.iter().find(|(n, _)| *n == base).ok_or_else(|| {
                        ThemeError::Invalid {
                            origin: origin.to_owned(),
                            message: format!(
                                "base = '{base}': use one of dark, light, high-contrast"
                            ),
                        }
                    })?;
                Theme::from_toml(base_text, base, depth + 1)?.palette
            }
            Some(_) => Palette::reset(),
            // Without a base, unnamed colours come from the default theme.
            None if origin != "dark" => Theme::default().palette,
            None => Palette::reset(),
        };
        file.colors.apply(&mut palette, origin)?;
        Ok(Theme {
            name: origin.to_owned(),
            palette,
            color: true,
        })
    }

    /// The theme `--theme` names (a built-in name or a file), `dark` when
    /// none; colour off when `no_color` (the caller reads `NO_COLOR`).
    pub fn resolve(spec: Option<&str>, no_color: bool) -> Result<Theme, ThemeError> {
        let spec = spec.unwrap_or("dark");
        let mut theme = if let Some(theme) = Theme::built_in(spec) {
            theme
        } else if Path::new(spec).is_file() {
            let text = std::fs::read_to_string(spec).map_err(|source| ThemeError::Read {
                path: spec.to_owned(),
                source,
            })?;
            Theme::from_toml(&text, spec, 0)?
        } else {
            return Err(ThemeError::Unknown(spec.to_owned()));
        };
        theme.color = !no_color;
        Ok(theme)
    }

    /// Whether `NO_COLOR` asks for no colour (set and not empty, per
    /// no-color.org).
    pub fn no_color_from_env() -> bool {
        std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty())
    }

    /// A theme without colour (tests, `NO_COLOR`).
    pub fn monochrome() -> Theme {
        Theme {
            name: "no-color".into(),
            palette: Palette::reset(),
            color: false,
        }
    }

    fn fg(&self, color: Color) -> Style {
        if self.color {
            Style::new().fg(color)
        } else {
            Style::new()
        }
    }

    /// Ordinary text.
    pub fn text(&self) -> Style {
        self.fg(self.palette.text)
    }

    /// Secondary text: units, hints, empty states.
    pub fn dim(&self) -> Style {
        if self.color {
            self.fg(self.palette.dim)
        } else {
            Style::new().add_modifier(Modifier::DIM)
        }
    }

    /// Figures that matter (throughput, the current step).
    pub fn accent(&self) -> Style {
        self.fg(self.palette.accent).add_modifier(Modifier::BOLD)
    }

    /// A pane title.
    pub fn title(&self, focused: bool) -> Style {
        if focused {
            self.fg(self.palette.title_focused)
                .add_modifier(Modifier::BOLD | Modifier::UNDERLINED)
        } else {
            self.fg(self.palette.title)
        }
    }

    /// A pane border.
    pub fn border(&self, focused: bool) -> Style {
        match (focused, self.color) {
            (true, true) => self.fg(self.palette.border_focused),
            (false, true) => self.fg(self.palette.border),
            (true, false) => Style::new().add_modifier(Modifier::BOLD),
            (false, false) => Style::new(),
        }
    }

    /// A step's tab.
    pub fn tab(&self, active: bool) -> Style {
        match (active, self.color) {
            (true, true) => Style::new()
                .fg(self.palette.tab_active)
                .bg(self.palette.tab_active_bg)
                .add_modifier(Modifier::BOLD),
            (true, false) => Style::new().add_modifier(Modifier::REVERSED | Modifier::BOLD),
            (false, _) => self.fg(self.palette.tab),
        }
    }

    /// The cursor line of a list (only marked strongly in the focused pane).
    pub fn selected(&self, focused: bool) -> Style {
        match (focused, self.color) {
            (true, true) => Style::new()
                .fg(self.palette.selection_fg)
                .bg(self.palette.selection_bg),
            (true, false) => Style::new().add_modifier(Modifier::REVERSED),
            (false, _) => Style::new().add_modifier(Modifier::BOLD),
        }
    }

    /// A key name in hints and help.
    pub fn key(&self) -> Style {
        self.fg(self.palette.key).add_modifier(Modifier::BOLD)
    }

    /// Good news: precise, not the bottleneck, done.
    pub fn good(&self) -> Style {
        self.fg(self.palette.good)
    }

    /// Bad news: a drop, a crash, the bottleneck.
    pub fn bad(&self) -> Style {
        self.fg(self.palette.bad).add_modifier(Modifier::BOLD)
    }

    /// A warning: noisy, inconclusive.
    pub fn warn(&self) -> Style {
        self.fg(self.palette.warn)
    }

    /// Ranking bars.
    pub fn bar(&self) -> Style {
        self.fg(self.palette.bar)
    }

    /// Chart lines and points.
    pub fn chart(&self) -> Style {
        self.fg(self.palette.chart)
    }

    /// Confidence intervals on charts.
    pub fn interval(&self) -> Style {
        self.fg(self.palette.interval)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_ins_parse_completely() {
        for (name, text) in BUILT_IN {
            let theme = Theme::from_toml(text, name, 0).unwrap();
            assert_eq!(theme.name, *name);
        }
        let dark = Theme::built_in("dark").unwrap();
        assert_eq!(dark.palette.bar, Color::Blue);
    }

    #[test]
    fn a_user_file_overrides_only_what_it_names() {
        let theme =
            Theme::from_toml("base = 'light'\n[colors]\nbar = '#ff0000'\n", "mine", 0).unwrap();
        let light = Theme::built_in("light").unwrap();
        assert_eq!(theme.palette.bar, Color::Rgb(255, 0, 0));
        assert_eq!(theme.palette.chart, light.palette.chart);
        let no_base = Theme::from_toml("[colors]\ngood = '10'\n", "mine", 0).unwrap();
        assert_eq!(no_base.palette.good, Color::Indexed(10));
        assert_eq!(no_base.palette.bad, Theme::default().palette.bad);
    }

    #[test]
    fn errors_name_the_key() {
        let err = Theme::from_toml("[colors]\nbar = 'blu'\n", "mine.toml", 0).unwrap_err();
        assert!(err.to_string().contains("colors.bar: 'blu'"), "{err}");
        let err = Theme::from_toml("[colors]\nbars = 'blue'\n", "mine.toml", 0).unwrap_err();
        assert!(err.to_string().contains("bars"), "{err}");
        let err = Theme::resolve(Some("neon"), false).unwrap_err();
        assert!(
            err.to_string().contains("dark, light, high-contrast"),
            "{err}"
        );
    }

    #[test]
    fn no_color_keeps_emphasis_only() {
        let theme = Theme::resolve(Some("dark"), true).unwrap();
        assert_eq!(theme.bad().fg, None);
        assert!(
            theme
                .selected(true)
                .add_modifier
                .contains(Modifier::REVERSED)
        );
    }
}

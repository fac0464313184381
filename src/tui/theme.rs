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
    background,
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
            background: r,
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

    /// The whole screen before anything is drawn on it: the theme's text
    /// on its background, so every colour pair is one the theme chose
    /// (nothing on the terminal's own, unknown, background).
    pub fn base(&self) -> Style {
        if self.color {
            Style::new()
                .fg(self.palette.text)
                .bg(self.palette.background)
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

/// The RGB a terminal shows for `color`, where that is fixed: `#rrggbb`,
/// and the 256-colour indexes 16-255 (the xterm colour cube and grey ramp,
/// which terminals share). `None` for the 16 ANSI colours (0-15 and their
/// names) and `reset`: each terminal's own palette decides them, so the
/// built-in themes never use them (see docs/tui.md, "Themes").
pub fn rgb(color: Color) -> Option<(u8, u8, u8)> {
    match color {
        Color::Rgb(r, g, b) => Some((r, g, b)),
        Color::Indexed(i @ 16..=231) => {
            const LEVELS: [u8; 6] = [0, 95, 135, 175, 215, 255];
            let i = usize::from(i - 16);
            Some((LEVELS[i / 36], LEVELS[(i / 6) % 6], LEVELS[i % 6]))
        }
        Color::Indexed(i @ 232..=255) => {
            let grey = 8 + 10 * (i - 232);
            Some((grey, grey, grey))
        }
        _ => None,
    }
}

/// WCAG 2 contrast ratio of two colours (1 to 21), `None` when either has
/// no fixed RGB ([`rgb`]).
pub fn contrast(a: Color, b: Color) -> Option<f64> {
    fn luminance((r, g, b): (u8, u8, u8)) -> f64 {
        let linear = |v: u8| {
            let v = f64::from(v) / 255.0;
            if v <= 0.039_28 {
                v / 12.92
            } else {
                ((v + 0.055) / 1.055).powf(2.4)
            }
        };
        0.2126 * linear(r) + 0.7152 * linear(g) + 0.0722 * linear(b)
    }
    let (la, lb) = (luminance(rgb(a)?), luminance(rgb(b)?));
    Some((la.max(lb) + 0.05) / (la.min(lb) + 0.05))
}

/// WCAG's minimum contrast for text (level AA).
pub const TEXT_CONTRAST: f64 = 4.5;
/// WCAG's minimum contrast for graphics that carry meaning: borders, bars,
/// chart lines (1.4.11, non-text contrast).
pub const GRAPHIC_CONTRAST: f64 = 3.0;

impl Palette {
    /// Every foreground/background pair the views draw, with the contrast
    /// it needs: text and graphics on the background, the active tab, and
    /// the selected row (whose style replaces the foreground of everything
    /// in it, bars included, by `selection_fg`).
    pub fn pairs(&self) -> Vec<(&'static str, Color, Color, f64)> {
        let bg = self.background;
        let mut pairs = vec![
            (
                "tab_active on tab_active_bg",
                self.tab_active,
                self.tab_active_bg,
                TEXT_CONTRAST,
            ),
            (
                "selection_fg on selection_bg",
                self.selection_fg,
                self.selection_bg,
                TEXT_CONTRAST,
            ),
        ];
        for (name, color) in [
            ("text", self.text),
            ("dim", self.dim),
            ("accent", self.accent),
            ("title", self.title),
            ("title_focused", self.title_focused),
            ("tab", self.tab),
            ("key", self.key),
            ("good", self.good),
            ("bad", self.bad),
            ("warn", self.warn),
        ] {
            pairs.push((name, color, bg, TEXT_CONTRAST));
        }
        for (name, color) in [
            ("border", self.border),
            ("border_focused", self.border_focused),
            ("bar", self.bar),
            ("chart", self.chart),
            ("interval", self.interval),
        ] {
            pairs.push((name, color, bg, GRAPHIC_CONTRAST));
        }
        pairs
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
    }

    #[test]
    fn every_built_in_theme_is_readable() {
        for (name, _) in BUILT_IN {
            let theme = Theme::built_in(name).unwrap();
            for (what, fg, bg, need) in theme.palette.pairs() {
                let ratio = contrast(fg, bg)
                    .unwrap_or_else(|| panic!("{name}: {what}: {fg:?} on {bg:?} has no fixed RGB"));
                assert!(
                    ratio >= need,
                    "{name}: {what}: {fg:?} on {bg:?} is {ratio:.2}:1, needs {need}:1"
                );
            }
        }
    }

    #[test]
    fn contrast_is_wcag_s() {
        let black = Color::Rgb(0, 0, 0);
        let white = Color::Indexed(231);
        assert!((contrast(black, white).unwrap() - 21.0).abs() < 1e-9);
        assert!((contrast(white, white).unwrap() - 1.0).abs() < 1e-9);
        // #767676 on white is the classic 4.54:1.
        let grey = Color::Rgb(0x76, 0x76, 0x76);
        assert!((contrast(grey, white).unwrap() - 4.54).abs() < 0.01);
        assert_eq!(rgb(Color::Indexed(244)), Some((128, 128, 128)));
        assert_eq!(rgb(Color::Indexed(25)), Some((0, 95, 175)));
        // ANSI colours have no fixed RGB.
        assert_eq!(contrast(Color::Blue, Color::Black), None);
        assert_eq!(contrast(Color::Reset, white), None);
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

//! Bar charts drawn as SVG by the server: no chart code reaches the WASM
//! (the page is not an island). Each day is a column a pointer or Tab can
//! land on; its numbers show in a tip drawn with CSS (`:hover`,
//! `:focus-visible`), and a table above the drawing ("Show the numbers",
//! before the columns in Tab order) carries the same numbers for screen
//! readers and anyone who prefers them.

use leptos::prelude::*;

use crate::components::time;
use crate::locale::Locale;

/// One series: a label, what its colour says, and a value per day.
pub struct Series {
    pub label: &'static str,
    pub tone: Tone,
    pub values: Vec<u64>,
    /// Whether the legend shows the window's total (not for counts of
    /// distinct things, whose days do not add up).
    pub summed: bool,
}

/// A series' colour, by meaning, so red always means failure.
#[derive(Clone, Copy)]
pub enum Tone {
    Main,
    Other,
    Bad,
    Warn,
}

impl Tone {
    fn class(self) -> &'static str {
        match self {
            Tone::Main => "chart-main",
            Tone::Other => "chart-other",
            Tone::Bad => "chart-bad",
            Tone::Warn => "chart-warn",
        }
    }
}

// The drawing's coordinates (the SVG scales to its box).
const WIDTH: f64 = 720.0;
const HEIGHT: f64 = 236.0;
/// The band above the plot that the tips are drawn in, so no bar covers one.
const TIP_BAND: f64 = 34.0;
const TOP: f64 = TIP_BAND + 10.0;
const BOTTOM: f64 = HEIGHT - 26.0;
const LEFT: f64 = 44.0;
const RIGHT: f64 = WIDTH - 6.0;

/// A coordinate, to a tenth (enough at any size the chart is shown).
fn px(v: f64) -> String {
    format!("{v:.1}")
}

/// `n` with thousands separators: "12,345" (both languages write it so).
pub fn count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// An axis value in at most four characters: "950", "2.5k", "10k", "1.2M".
fn short(n: u64) -> String {
    let scaled = |n: u64, unit: u64, suffix: &str| {
        let tenths = n * 10 / unit;
        if tenths.is_multiple_of(10) || tenths >= 100 {
            format!("{}{suffix}", tenths / 10)
        } else {
            format!("{}.{}{suffix}", tenths / 10, tenths % 10)
        }
    };
    match n {
        0..1_000 => n.to_string(),
        1_000..1_000_000 => scaled(n, 1_000, "k"),
        _ => scaled(n, 1_000_000, "M"),
    }
}

/// The smallest 2, 4 or 10 × 10ⁿ at or above `max`, so the middle line
/// is round too (1, 2, 5 × 10ⁿ).
fn axis_top(max: u64) -> u64 {
    let mut step = 1;
    loop {
        for m in [2, 4, 10] {
            if step * m >= max {
                return step * m;
            }
        }
        step *= 10;
    }
}

/// A rough width of `text` at the tip's size, for its background.
fn text_width(text: &str) -> f64 {
    text.chars()
        .map(|c| if c.is_ascii() { 7.0 } else { 12.5 })
        .sum()
}

/// One day's numbers as a sentence: "3 Dec: Log-ins 120, Failed 4".
fn day_label(locale: Locale, day: i64, series: &[Series], i: usize, mark: Option<&str>) -> String {
    let numbers: Vec<String> = series
        .iter()
        .map(|s| format!("{} {}", s.label, count(s.values[i])))
        .collect();
    let mut label = format!("{}: {}", time::day_month(day, locale), numbers.join(", "));
    if let Some(mark) = mark {
        label.push_str(" — ");
        label.push_str(mark);
    }
    label
}

/// A bar chart of `series` over `days` (each a day's first second), with
/// the days `marked` flagged by `mark` (e.g. a spike) above their column.
#[component]
pub fn BarChart(
    /// Names the chart's heading, which labels the drawing and the table.
    id: &'static str,
    title: &'static str,
    days: Vec<i64>,
    series: Vec<Series>,
    #[prop(optional)] marked: Vec<bool>,
    #[prop(optional)] mark: Option<&'static str>,
) -> impl IntoView {
    let locale = crate::locale::current();
    let max = series
        .iter()
        .flat_map(|s| s.values.iter().copied())
        .max()
        .unwrap_or(0);
    let top = axis_top(max);
    let y = move |v: u64| BOTTOM - (BOTTOM - TOP) * v as f64 / top as f64;
    let slot = (RIGHT - LEFT) / days.len().max(1) as f64;
    let bar = (slot - 4.0) / series.len().max(1) as f64;
    let is_marked = |i: usize| marked.get(i).copied().unwrap_or(false);

    let grid = [0, top / 2, top]
        .into_iter()
        .map(|v| {
            view! {
                <line class="chart-grid" x1=px(LEFT) x2=px(RIGHT) y1=px(y(v)) y2=px(y(v))/>
                <text class="chart-axis" x=px(LEFT - 6.0) y=px(y(v) + 4.0) text-anchor="end">{short(v)}</text>
            }
        })
        .collect_view();
    // A date under every 7th column, counted back from today.
    let ticks = days
        .iter()
        .enumerate()
        .filter(|(i, _)| (days.len() - 1 - i).is_multiple_of(7))
        .map(|(i, &day)| {
            // Today's ends at the edge, so a long date is not cut off.
            let (x, anchor) = if i + 1 == days.len() {
                (RIGHT, "end")
            } else {
                (LEFT + slot * (i as f64 + 0.5), "middle")
            };
            view! {
                <text class="chart-axis" x=px(x) y=px(HEIGHT - 8.0) text-anchor=anchor>{time::day_month(day, locale)}</text>
            }
        })
        .collect_view();
    let columns = days
        .iter()
        .enumerate()
        .map(|(i, &day)| {
            let x = LEFT + slot * i as f64;
            let label = day_label(locale, day, &series, i, is_marked(i).then_some(mark).flatten());
            let tip_width = text_width(&label) + 16.0;
            let tip_x = (x + slot / 2.0 - tip_width / 2.0).clamp(0.0, (WIDTH - tip_width).max(0.0));
            let bars = series
                .iter()
                .enumerate()
                .map(|(k, s)| {
                    let v = s.values[i];
                    // A zero still shows as a hairline, so "none" reads as data.
                    let height = (BOTTOM - y(v)).max(1.0);
                    view! {
                        <rect
                            class=s.tone.class()
                            x=px(x + 2.0 + bar * k as f64)
                            y=px(BOTTOM - height)
                            width=px((bar - 1.0).max(1.0))
                            height=px(height)
                        />
                    }
                })
                .collect_view();
            let flag = is_marked(i).then(|| {
                let cx = x + slot / 2.0;
                view! {
                    <path class="chart-mark" d=format!("M{:.1} {:.1} l-5 -8 h10 z", cx, TOP - 1.0)/>
                }
            });
            let tip = label.clone();
            view! {
                <g class="chart-day" tabindex="0" role="img" aria-label=label>
                    <rect class="chart-hit" x=px(x) y=px(TIP_BAND) width=px(slot) height=px(BOTTOM - TIP_BAND)/>
                    {bars}
                    {flag}
                    <g class="chart-tip">
                        <rect x=px(tip_x) y="2" width=px(tip_width) height="26" rx="6"/>
                        <text x=px(tip_x + 8.0) y="19.5">{tip}</text>
                    </g>
                </g>
            }
            .into_any()
        })
        .collect_view();

    let legend = series
        .iter()
        .map(|s| {
            let total = s.summed.then(|| count(s.values.iter().sum()));
            view! {
                <li>
                    <span class=format!("chart-swatch {}", s.tone.class()) aria-hidden="true"></span>
                    {s.label}
                    {total.map(|total| view! { " "<strong>{total}</strong> })}
                </li>
            }
        })
        .collect_view();
    let any_marked = marked.iter().any(|m| *m);
    let rows = days
        .iter()
        .enumerate()
        .rev()
        .map(|(i, &day)| {
            let cells = series
                .iter()
                .map(|s| view! { <td class="num">{count(s.values[i])}</td> })
                .collect_view();
            let flag = (is_marked(i)).then(|| view! { " "<span class="chart-flag">{mark}</span> });
            view! { <tr><th scope="row" class="nowrap">{time::date(day, locale)}{flag}</th>{cells}</tr> }
        })
        .collect_view();
    let heads = series
        .iter()
        .map(|s| view! { <th scope="col" class="num">{s.label}</th> })
        .collect_view();
    let heading = format!("chart-{id}");

    view! {
        <figure class="chart" data-testid=format!("chart-{id}")>
            <figcaption>
                <h2 id=heading.clone()>{title}</h2>
                <ul class="chart-legend">
                    {legend}
                    {any_marked.then(|| view! {
                        <li><span class="chart-swatch chart-mark-swatch" aria-hidden="true"></span>{mark}</li>
                    })}
                </ul>
            </figcaption>
            <details class="chart-table">
                // Four of these on a page: each names its chart.
                <summary aria-label=format!("{}: {title}", crate::tr!(admin_overview.show_numbers))>
                    {crate::tr!(admin_overview.show_numbers)}
                </summary>
                <div class="table-wrap">
                    <table class="table" aria-labelledby=heading.clone()>
                        <thead><tr><th scope="col">{crate::tr!(admin_overview.day)}</th>{heads}</tr></thead>
                        <tbody>{rows}</tbody>
                    </table>
                </div>
            </details>
            <div class="chart-frame">
                <svg viewBox=format!("0 0 {WIDTH} {HEIGHT}") role="group" aria-labelledby=heading>
                    // Read out per column (its label); the axes are for eyes.
                    <g aria-hidden="true">{grid}{ticks}</g>
                    {columns}
                </svg>
            </div>
        </figure>
    }
    // The full type is deeper than the compiler follows by default.
    .into_any()
}

#[cfg(test)]
mod tests {
    use super::{axis_top, count, short};

    #[test]
    fn counts_group_thousands() {
        assert_eq!(count(0), "0");
        assert_eq!(count(999), "999");
        assert_eq!(count(1000), "1,000");
        assert_eq!(count(1_234_567), "1,234,567");
    }

    #[test]
    fn axis_values_fit_in_four_characters() {
        assert_eq!(short(0), "0");
        assert_eq!(short(950), "950");
        assert_eq!(short(1_000), "1k");
        assert_eq!(short(2_500), "2.5k");
        assert_eq!(short(100_000), "100k");
        assert_eq!(short(1_200_000), "1.2M");
        assert_eq!(short(50_000_000), "50M");
    }

    #[test]
    fn the_axis_ends_on_a_round_number() {
        assert_eq!(axis_top(0), 2);
        assert_eq!(axis_top(3), 4);
        assert_eq!(axis_top(7), 10);
        assert_eq!(axis_top(120), 200);
        assert_eq!(axis_top(2000), 2000);
        assert_eq!(axis_top(2001), 4000);
    }
}

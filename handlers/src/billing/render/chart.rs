//! Inline SVG charts, drawn with decimal arithmetic (no floats).

use std::fmt::Write as _;

use chrono::Datelike;
use rust_decimal::Decimal;

use super::super::DailyTotal;
use super::format::{amount_in, cost_text, escape, tokens_short};
use crate::domain::{Currency, Money};

/// One bar of a horizontal bar chart.
pub(super) struct Bar {
    /// Label on the left.
    pub label: String,
    /// Length (the priced amount).
    pub value: Decimal,
    /// What the bar's end says (the amount, or that it is unpriced).
    pub text: String,
    /// CSS class of the bar (`bar`, `bar-unused`, …).
    pub class: &'static str,
}

fn n(d: Decimal) -> String {
    d.round_dp(1).normalize().to_string()
}

/// A "nice" axis maximum and step for values up to `max`: steps of 1, 2 or 5
/// times a power of ten, four or five of them.
fn nice_axis(max: Decimal) -> (Decimal, Decimal) {
    if max <= Decimal::ZERO {
        return (Decimal::ONE, Decimal::new(25, 2));
    }
    let raw = max / Decimal::from(4);
    let mut power = Decimal::new(1, 4);
    while power * Decimal::TEN <= raw {
        power *= Decimal::TEN;
    }
    let step =
        [1, 2, 5, 10].iter().map(|m| power * Decimal::from(*m)).find(|s| *s >= raw).unwrap_or(power * Decimal::TEN);
    ((max / step).ceil() * step, step)
}

/// Horizontal bars, one per item, with the amount at the end of each bar.
pub(super) fn bar_chart(bars: &[Bar], title: &str) -> String {
    let (label_w, bar_w, row_h) = (Decimal::from(150), Decimal::from(270), 34u32);
    let height = row_h * bars.len().max(1) as u32 + 10;
    let max = bars.iter().map(|b| b.value).max().unwrap_or_default();
    let mut svg = format!(
        "<svg class=\"chart\" role=\"img\" aria-label=\"{}\" viewBox=\"0 0 520 {height}\" width=\"520\" height=\"{height}\">",
        escape(title)
    );
    for (i, bar) in bars.iter().enumerate() {
        let y = row_h * i as u32 + 6;
        let w = if max.is_zero() { Decimal::ZERO } else { (bar.value / max * bar_w).max(Decimal::ONE) };
        let _ = write!(
            svg,
            "<text x=\"{lx}\" y=\"{ty}\" class=\"axis-label\" text-anchor=\"end\">{label}</text>\
             <rect class=\"{class}\" x=\"{x}\" y=\"{y}\" width=\"{w}\" height=\"22\" rx=\"3\"><title>{label}: {amount}</title></rect>\
             <text x=\"{vx}\" y=\"{ty}\" class=\"value-label\">{amount}</text>",
            lx = n(label_w - Decimal::from(10)),
            ty = y + 16,
            label = escape(&truncate(&bar.label, 22)),
            class = bar.class,
            x = n(label_w),
            w = n(w),
            vx = n(label_w + w + Decimal::from(8)),
            amount = escape(&bar.text),
        );
    }
    svg.push_str("</svg>");
    svg
}

/// Daily cost as columns, with the day's tokens as a line on its own scale.
pub(super) fn daily_chart(days: &[DailyTotal], currency: &Currency) -> String {
    let (left, top, plot_w, plot_h) = (Decimal::from(70), Decimal::from(16), Decimal::from(1000), Decimal::from(220));
    let priced = |d: &DailyTotal| d.cost.as_ref().map_or(Decimal::ZERO, Money::amount);
    let (axis_max, step) = nice_axis(days.iter().map(priced).max().unwrap_or_default());
    let token_max = days.iter().map(|d| d.tokens.total_tokens).max().unwrap_or(0);
    let count = Decimal::from(days.len().max(1) as u64);
    let slot = plot_w / count;
    let col_w = (slot * Decimal::new(7, 1)).max(Decimal::ONE);
    let mut svg = String::from(
        "<svg class=\"chart\" role=\"img\" aria-label=\"Daily cost and tokens\" viewBox=\"0 0 1080 260\" width=\"1080\" height=\"260\">",
    );
    let mut tick = Decimal::ZERO;
    while tick <= axis_max {
        let y = top + plot_h - tick / axis_max * plot_h;
        let _ = write!(
            svg,
            "<line class=\"grid\" x1=\"{l}\" x2=\"{r}\" y1=\"{y}\" y2=\"{y}\"/><text class=\"axis-label\" x=\"{lx}\" y=\"{ty}\" text-anchor=\"end\">{label}</text>",
            l = n(left),
            r = n(left + plot_w),
            y = n(y),
            lx = n(left - Decimal::from(8)),
            ty = n(y + Decimal::from(4)),
            label = escape(&amount_in(tick, currency)),
        );
        tick += step;
    }
    let mut points = Vec::new();
    for (i, d) in days.iter().enumerate() {
        let (day, tokens) = (&d.day, &d.tokens.total_tokens);
        let x = left + slot * Decimal::from(i as u64) + (slot - col_w) / Decimal::TWO;
        let h = priced(d) / axis_max * plot_h;
        let _ = write!(
            svg,
            "<rect class=\"column\" x=\"{x}\" y=\"{y}\" width=\"{w}\" height=\"{h}\"><title>{day}: {amount}, {t} tokens</title></rect>",
            x = n(x),
            y = n(top + plot_h - h),
            w = n(col_w),
            h = n(h),
            amount = escape(&cost_text(d.cost.as_ref(), d.unpriced_tokens > 0)),
            t = tokens_short(*tokens),
        );
        if token_max > 0 {
            let ty = top + plot_h - Decimal::from(*tokens) / Decimal::from(token_max) * plot_h;
            points.push(format!("{},{}", n(x + col_w / Decimal::TWO), n(ty)));
        }
        if day.day() == 1 || day.day() % 5 == 0 {
            let _ = write!(
                svg,
                "<text class=\"axis-label\" x=\"{x}\" y=\"{y}\" text-anchor=\"middle\">{label}</text>",
                x = n(x + col_w / Decimal::TWO),
                y = n(top + plot_h + Decimal::from(18)),
                label = day.format("%b %-d"),
            );
        }
    }
    if !points.is_empty() {
        let _ = write!(svg, "<polyline class=\"token-line\" points=\"{}\"/>", points.join(" "));
    }
    let _ = write!(
        svg,
        "<line class=\"axis\" x1=\"{l}\" x2=\"{r}\" y1=\"{b}\" y2=\"{b}\"/></svg>",
        l = n(left),
        r = n(left + plot_w),
        b = n(top + plot_h)
    );
    svg
}

fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_owned()
    } else {
        format!("{}…", text.chars().take(max - 1).collect::<String>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axes_are_round_numbers() {
        let d = |s: &str| s.parse::<Decimal>().unwrap();
        assert_eq!(nice_axis(d("87.3")), (d("100"), d("50")));
        assert_eq!(nice_axis(d("1234")).0, d("1500"));
        assert_eq!(nice_axis(Decimal::ZERO).0, Decimal::ONE);
    }

    #[test]
    fn labels_are_escaped() {
        let bar = Bar { label: "<b>&".into(), value: Decimal::ONE, text: "$1.00".into(), class: "bar" };
        let svg = bar_chart(&[bar], "t");
        assert!(svg.contains("&lt;b&gt;&amp;") && !svg.contains("<b>"));
    }
}

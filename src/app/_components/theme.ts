import { createTheme, type CSSVariablesResolver } from "@mantine/core";

/**
 * The one theme of the app (console and files page). System fonts: nothing is fetched at build or
 * run time. Light only, matching the rest of the app's styles.
 */
export const theme = createTheme({
  primaryColor: "indigo",
  fontFamily: 'system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif',
  fontFamilyMonospace: 'ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono", monospace',
  defaultRadius: "md",
  // Text on light fills must stay readable (axe: colour contrast).
  autoContrast: true,
  // Filled buttons, links and light badges in shade 8: white or tinted text on shade 6 reads below
  // WCAG AA's 4.5:1 for small text (axe, e2e/a11y.spec.ts).
  primaryShade: { light: 8, dark: 8 },
});

/** Dimmed text (hints, times, ids) in gray 7: Mantine's gray 6 is 3.3:1 on white, below AA. */
export const cssVariablesResolver: CSSVariablesResolver = (t) => ({
  variables: {},
  light: { "--mantine-color-dimmed": t.colors.gray[7]! },
  dark: {},
});

import { createTheme } from "@mantine/core";

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
});

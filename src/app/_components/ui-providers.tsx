"use client";

import { MantineProvider } from "@mantine/core";
import { ModalsProvider } from "@mantine/modals";
import { Notifications } from "@mantine/notifications";
import type { ReactNode } from "react";
import { cssVariablesResolver, theme } from "./theme";

/**
 * The component library's providers. `nonce` is this request's CSP nonce (src/proxy.ts): Mantine
 * puts its generated <style> elements (CSS variables, responsive style props) under it, so the
 * policy can keep refusing every other inline <style>.
 */
export function UiProviders({ nonce, children }: { nonce: string | undefined; children: ReactNode }) {
  return (
    <MantineProvider theme={theme} cssVariablesResolver={cssVariablesResolver} forceColorScheme="light" getStyleNonce={() => nonce ?? ""}>
      <ModalsProvider>
        <Notifications position="top-right" limit={4} />
        {children}
      </ModalsProvider>
    </MantineProvider>
  );
}

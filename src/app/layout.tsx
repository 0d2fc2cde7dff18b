import "@mantine/core/styles.css";
import "@mantine/notifications/styles.css";
import "@mantine/charts/styles.css";
import "./globals.css";
import { ColorSchemeScript, mantineHtmlProps } from "@mantine/core";
import type { Metadata } from "next";
import { headers } from "next/headers";
import { connection } from "next/server";
import type { ReactNode } from "react";
import { TRPCReactProvider } from "~/trpc/react";
import { UiProviders } from "./_components/ui-providers";

export const metadata: Metadata = { title: "MetaStore", description: "File metadata with reliable events" };

export default async function RootLayout({ children }: { children: ReactNode }) {
  // Every page renders per request: its scripts carry that request's CSP nonce (src/proxy.ts).
  // A prerendered page would have none, and the browser would block its scripts.
  await connection();
  const nonce = (await headers()).get("x-nonce") ?? undefined;
  return (
    <html lang="en" {...mantineHtmlProps}>
      <head>
        <ColorSchemeScript nonce={nonce} forceColorScheme="light" />
      </head>
      <body>
        <TRPCReactProvider>
          <UiProviders nonce={nonce}>{children}</UiProviders>
        </TRPCReactProvider>
      </body>
    </html>
  );
}

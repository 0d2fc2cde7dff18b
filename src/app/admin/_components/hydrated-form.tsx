"use client";

import { Fieldset } from "@mantine/core";
import type { ComponentProps } from "react";
import { useHydrated } from "./refresh";

/**
 * A form whose controls are disabled until React has hydrated the page. The server's render has no
 * handlers: a choice made in it is overwritten by hydration and a submit reloads the page, so the
 * form is usable only once it works (browsers and Playwright wait for a disabled control to
 * enable). The fieldset is unstyled: it only carries the disabled state to every control in it.
 */
export function HydratedForm({ children, ...form }: ComponentProps<"form">) {
  const hydrated = useHydrated();
  return (
    <form {...form}>
      <Fieldset variant="unstyled" disabled={!hydrated} m={0} miw={0}>
        {children}
      </Fieldset>
    </form>
  );
}

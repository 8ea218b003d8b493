import { createContext, useContext } from "react";
import type { Api } from "./client";
import type { Session } from "../auth/session";

export interface ApiContextValue {
  api: Api;
  session: Session;
}

export const ApiContext = createContext<ApiContextValue | null>(null);

export function useApi(): ApiContextValue {
  const v = useContext(ApiContext);
  if (!v) throw new Error("useApi outside a signed-in page");
  return v;
}

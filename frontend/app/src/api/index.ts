import { ApiError, createApiClient, type ApiHooks } from './client'

/** Filled in by main.ts (router and banner); read at each request, so pages can import `api` before that. */
export const apiHooks: ApiHooks = {}

export const api = createApiClient(apiHooks)

export { ApiError }
export type { FieldErrors } from './client'

/** Failures the shell answers for every page: the "unavailable" banner (503, no answer) or the way to sign in. */
export function handledByShell(error: unknown): boolean {
  return error instanceof ApiError && [0, 401, 503].includes(error.status)
}

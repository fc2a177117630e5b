import { createApiClient, type ApiHooks } from './client'

/** Filled in by main.ts (router and banner); read at each request, so pages can import `api` before that. */
export const apiHooks: ApiHooks = {}

export const api = createApiClient(apiHooks)

export { ApiError, type FieldErrors } from './client'

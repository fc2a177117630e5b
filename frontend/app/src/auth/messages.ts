import { AuthError, AuthUnavailable } from '@/api/allauth'

type Translate = (key: string, values?: Record<string, unknown>) => string

// allauth's error codes the app words itself (in the user's language); any other error shows the server's words.
const SIGN_IN_CODES = new Set(['username_password_mismatch', 'incorrect_code', 'too_many_login_attempts'])
const SECURITY_CODES = new Set(['incorrect_code', 'enter_current_password', 'incorrect_password'])
const DEFAULT_LOCKOUT_MINUTES = 15

/** The sentence to show for a failed sign-in step or Security page action. */
export function authErrorMessage(
  t: Translate,
  error: unknown,
  scope: 'signIn' | 'security' = 'signIn',
): string {
  if (error instanceof AuthUnavailable) return t('signIn.errors.unavailable')
  if (!(error instanceof AuthError)) return t('signIn.errors.unknown')
  const code = error.code ?? ''
  if (code === 'locked_out') {
    const minutes = error.retryAfter ? Math.ceil(error.retryAfter / 60) : DEFAULT_LOCKOUT_MINUTES
    return t('signIn.errors.locked_out', { minutes })
  }
  if (scope === 'security' && SECURITY_CODES.has(code)) return t(`security.errors.${code}`)
  if (SIGN_IN_CODES.has(code)) return t(`signIn.errors.${code}`)
  if (error.status === 429) return t('signIn.errors.rate_limited')
  return error.message || t('signIn.errors.unknown')
}

/** What a GitHub sign-in that came back with `?error=` says, or null when it did not fail. */
export function githubErrorMessage(
  t: Translate,
  query: Record<string, unknown>,
): { title: string; body: string } | null {
  const error = typeof query.error === 'string' ? query.error : ''
  if (!error) return null
  const title = t('signIn.githubRefused.title')
  if (error === 'github_refused') {
    const reason = ['not_listed', 'no_allow_list', 'orgs_unavailable'].includes(String(query.reason))
      ? String(query.reason)
      : 'not_listed'
    const login = typeof query.github_login === 'string' ? query.github_login : '?'
    return { title, body: t(`signIn.githubRefused.${reason}`, { login }) }
  }
  if (error === 'cancelled') return { title, body: t('signIn.githubRefused.cancelled') }
  return { title, body: t('signIn.githubRefused.failed', { error }) }
}

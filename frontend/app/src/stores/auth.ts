import { defineStore } from 'pinia'
import { computed, ref } from 'vue'
import { apiHooks } from '@/api'
import {
  AuthError,
  createAuthClient,
  ReauthenticationRequired,
  type AuthBody,
  type AuthConfig,
  type Authenticator,
  type AuthUser,
  type Flow,
  type Provider,
  type SessionData,
  type TotpSetup,
} from '@/api/allauth'

/** Where a sign-in stands: the password (or GitHub) first, then, for a user with an authenticator app, a code. */
export type SignInStep = 'credentials' | 'code'

/**
 * Who is signed in, and the sign-in and Security page actions, over allauth's JSON API. The server decides
 * everything (the session, the two-factor step, MFA_REQUIRED); this store only mirrors its last answer.
 */
export const useAuthStore = defineStore('auth', () => {
  const client = createAuthClient()
  const user = ref<AuthUser | null>(null)
  /** The session has been asked for at least once since the page loaded. */
  const checked = ref(false)
  /** The pending two-factor step of a sign-in, with the kinds of code the user has. */
  const pendingCode = ref<Flow | null>(null)
  const config = ref<AuthConfig | null>(null)

  const step = computed<SignInStep>(() => (pendingCode.value ? 'code' : 'credentials'))
  const github = computed<Provider | undefined>(() => config.value?.providers.find((p) => p.id === 'github'))

  /** Takes in an answer that describes the session (200 signed in, 401 not yet). */
  function apply(status: number, body: AuthBody<SessionData>): void {
    checked.value = true
    if (status === 200 && body.data?.user) {
      user.value = body.data.user
      pendingCode.value = null
      return
    }
    user.value = null
    pendingCode.value = body.data?.flows?.find((f) => f.is_pending && f.id === 'mfa_authenticate') ?? null
  }

  /** An answer to a signed-in action: 401 means "confirm it's you", or that the session is gone. */
  function signedIn<T>(status: number, body: AuthBody<T>): AuthBody<T> {
    if (status !== 401) return body
    if (body.meta?.is_authenticated === false) {
      user.value = null
      apiHooks.onUnauthenticated?.()
      throw new AuthError(401, [{ code: 'not_authenticated', message: '' }])
    }
    throw new ReauthenticationRequired((body.data as SessionData | undefined)?.flows ?? [])
  }

  async function loadConfig(): Promise<AuthConfig> {
    const { body } = await client.call<{ socialaccount?: { providers: Provider[] } }>('GET', '/config')
    config.value = {
      providers: body.data?.socialaccount?.providers ?? [],
      githubAllowListConfigured: body.meta?.github_allow_list_configured === true,
      mfaRequired: body.meta?.mfa_required === true,
    }
    return config.value
  }

  async function refresh(): Promise<AuthUser | null> {
    const { status, body } = await client.call<SessionData>('GET', '/auth/session')
    apply(status, body)
    return user.value
  }

  /** The password step; resolves to the step that follows ('code' when an authenticator app is set up). */
  async function signIn(username: string, password: string): Promise<SignInStep | 'done'> {
    const { status, body } = await client.call<SessionData>('POST', '/auth/login', { username, password })
    apply(status, body)
    if (user.value) return 'done'
    if (pendingCode.value) return 'code'
    throw new AuthError(status, [{ code: 'unexpected', message: '' }])
  }

  /** A code from the authenticator app, or a recovery code. */
  async function submitCode(code: string): Promise<void> {
    try {
      const { status, body } = await client.call<SessionData>('POST', '/auth/2fa/authenticate', { code })
      apply(status, body)
    } catch (error) {
      // Locked out: the server dropped the half-done sign-in, so the next try starts at the password.
      if (error instanceof AuthError && error.status === 429) pendingCode.value = null
      throw error
    }
  }

  /** Leaves the code step (or signs out): nothing of the session is left. */
  async function signOut(): Promise<void> {
    const { status, body } = await client.call<SessionData>('DELETE', '/auth/session')
    apply(status, body)
  }

  /** The REST API said 401: the session ended elsewhere (expired, signed out in another tab). */
  function expire(): void {
    user.value = null
    pendingCode.value = null
  }

  /** The REST API said 403 mfa_required. */
  function requireTwoFactorSetup(): void {
    if (user.value) user.value = { ...user.value, mfa_setup_required: true }
  }

  // --- the Security page ------------------------------------------------------------------------------------

  async function authenticators(): Promise<Authenticator[]> {
    const { status, body } = await client.call<Authenticator[]>('GET', '/account/authenticators')
    return signedIn(status, body).data ?? []
  }

  /** A new secret to set up an authenticator app with (each call makes a new one). */
  async function totpSetup(): Promise<TotpSetup> {
    const { status, body } = await client.call('GET', '/account/authenticators/totp')
    const meta = signedIn(status, body).meta ?? {}
    return {
      secret: String(meta.secret ?? ''),
      totpUrl: String(meta.totp_url ?? ''),
      svg: String(meta.totp_svg ?? ''),
    }
  }

  async function activateTotp(code: string): Promise<void> {
    const { status, body } = await client.call('POST', '/account/authenticators/totp', { code })
    signedIn(status, body)
    await refresh()
  }

  async function deactivateTotp(): Promise<void> {
    const { status, body } = await client.call('DELETE', '/account/authenticators/totp')
    signedIn(status, body)
    await refresh()
  }

  async function recoveryCodes(): Promise<Authenticator | null> {
    const { status, body } = await client.call<Authenticator>('GET', '/account/authenticators/recovery-codes')
    if (status === 404) return null
    return signedIn(status, body).data ?? null
  }

  async function regenerateRecoveryCodes(): Promise<Authenticator | null> {
    const { status, body } = await client.call<Authenticator>(
      'POST',
      '/account/authenticators/recovery-codes',
    )
    return signedIn(status, body).data ?? null
  }

  /** Confirms it's you, with the password or a code, before a sensitive change. */
  async function reauthenticate(kind: 'password' | 'code', secret: string): Promise<void> {
    const [path, body] =
      kind === 'password'
        ? ['/auth/reauthenticate', { password: secret }]
        : ['/auth/2fa/reauthenticate', { code: secret }]
    const answer = await client.call<SessionData>('POST', path, body)
    signedIn(answer.status, answer.body)
  }

  async function changePassword(currentPassword: string, newPassword: string): Promise<void> {
    const { status, body } = await client.call('POST', '/account/password/change', {
      current_password: currentPassword,
      new_password: newPassword,
    })
    signedIn(status, body)
  }

  return {
    user,
    checked,
    pendingCode,
    config,
    step,
    github,
    loadConfig,
    refresh,
    signIn,
    submitCode,
    signOut,
    expire,
    requireTwoFactorSetup,
    authenticators,
    totpSetup,
    activateTotp,
    deactivateTotp,
    recoveryCodes,
    regenerateRecoveryCodes,
    reauthenticate,
    changePassword,
  }
})

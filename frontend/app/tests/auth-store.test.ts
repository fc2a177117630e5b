import { createPinia, setActivePinia } from 'pinia'
import { beforeEach, describe, expect, it, vi } from 'vitest'
import { apiHooks } from '@/api'
import { AuthError, ReauthenticationRequired } from '@/api/allauth'
import { authErrorMessage, githubErrorMessage } from '@/auth/messages'
import { useReauth } from '@/auth/reauth'
import { i18n } from '@/i18n'
import { useAuthStore } from '@/stores/auth'
import {
  alice,
  anonymous,
  codeStep,
  config,
  failure,
  fakeAllauth,
  github,
  lockedOut,
  signedIn,
} from './allauth-fake'

const t = (key: string, values?: Record<string, unknown>) => i18n.global.t(key, values ?? {})

beforeEach(() => {
  setActivePinia(createPinia())
  i18n.global.locale.value = 'en'
  document.cookie = 'csrftoken=tok123; path=/'
})

describe('the auth store', () => {
  it('signs in with a password, sending the CSRF token, and knows the user', async () => {
    const { calls } = fakeAllauth({ 'POST /auth/login': signedIn() })
    const auth = useAuthStore()

    expect(await auth.signIn('alice', 'alice-password')).toBe('done')

    expect(auth.user).toEqual(alice)
    expect(calls[0]).toMatchObject({
      method: 'POST',
      path: '/auth/login',
      body: { username: 'alice', password: 'alice-password' },
      headers: { 'X-CSRFToken': 'tok123', 'Content-Type': 'application/json' },
    })
  })

  it('asks for a code after the password of a user with an authenticator app', async () => {
    const { calls } = fakeAllauth({ 'POST /auth/login': codeStep, 'POST /auth/2fa/authenticate': signedIn() })
    const auth = useAuthStore()

    expect(await auth.signIn('alice', 'alice-password')).toBe('code')
    expect(auth.user).toBeNull()
    expect(auth.step).toBe('code')
    expect(auth.pendingCode?.types).toEqual(['recovery_codes', 'totp'])

    await auth.submitCode('123456')
    expect(auth.user?.username).toBe('alice')
    expect(auth.step).toBe('credentials')
    expect(calls[1]).toMatchObject({ path: '/auth/2fa/authenticate', body: { code: '123456' } })
  })

  it('reports a wrong password in the user’s words', async () => {
    fakeAllauth({
      'POST /auth/login': failure(
        400,
        'username_password_mismatch',
        'The username and/or password …',
        'password',
      ),
    })
    const auth = useAuthStore()

    const error = await auth.signIn('alice', 'nope').catch((e: unknown) => e)

    expect(error).toBeInstanceOf(AuthError)
    expect(authErrorMessage(t, error)).toBe('The username or password is not correct.')
    i18n.global.locale.value = 'zh-CN'
    expect(authErrorMessage(t, error)).toBe('用户名或密码不正确。')
    expect(auth.user).toBeNull()
  })

  it('says how long a lockout lasts, and goes back to the password after one at the code step', async () => {
    fakeAllauth({ 'POST /auth/login': codeStep, 'POST /auth/2fa/authenticate': lockedOut })
    const auth = useAuthStore()
    await auth.signIn('alice', 'alice-password')

    const error = await auth.submitCode('000000').catch((e: unknown) => e)

    expect((error as AuthError).retryAfter).toBe(900)
    expect(authErrorMessage(t, error)).toContain(
      'refused for 15 minutes, even with the right password or code',
    )
    expect(auth.step).toBe('credentials')
  })

  it('reads which ways to sign in the server offers', async () => {
    fakeAllauth({
      'GET /config': config({ github_allow_list_configured: true, mfa_required: true }, [github]),
    })
    const auth = useAuthStore()

    await auth.loadConfig()

    expect(auth.github?.id).toBe('github')
    expect(auth.config).toMatchObject({ githubAllowListConfigured: true, mfaRequired: true })
  })

  it('signs out', async () => {
    fakeAllauth({ 'POST /auth/login': signedIn(), 'DELETE /auth/session': anonymous })
    const auth = useAuthStore()
    await auth.signIn('alice', 'alice-password')

    await auth.signOut()

    expect(auth.user).toBeNull()
  })

  it('asks to confirm it’s you before a sensitive change, then does it', async () => {
    const reauth = {
      status: 401,
      body: {
        status: 401,
        data: { user: alice, flows: [{ id: 'reauthenticate' }] },
        meta: { is_authenticated: true },
      },
    }
    const active = { status: 200, body: { status: 200, data: { type: 'totp' } } }
    const { calls } = fakeAllauth({
      'POST /account/authenticators/totp': [reauth, active],
      'POST /auth/reauthenticate': signedIn(),
      'GET /auth/session': signedIn(),
    })
    const auth = useAuthStore()
    const { request, guarded } = useReauth()

    const done = guarded(async () => {
      await auth.activateTotp('123456')
      return true
    })
    await vi.waitFor(() => expect(request.value?.flows).toEqual([{ id: 'reauthenticate' }]))
    await auth.reauthenticate('password', 'alice-password')
    request.value!.resolve(true)

    expect(await done).toBe(true)
    expect(calls.map((c) => `${c.method} ${c.path}`)).toEqual([
      'POST /account/authenticators/totp',
      'POST /auth/reauthenticate',
      'POST /account/authenticators/totp',
      'GET /auth/session',
    ])
  })

  it('gives up the change when the user cancels the confirmation', async () => {
    fakeAllauth({
      'DELETE /account/authenticators/totp': {
        status: 401,
        body: { status: 401, data: { flows: [] }, meta: { is_authenticated: true } },
      },
    })
    const auth = useAuthStore()
    const { request, guarded } = useReauth()

    const done = guarded(() => auth.deactivateTotp())
    await vi.waitFor(() => expect(request.value).not.toBeNull())
    expect(request.value!.flows).toEqual([]) // nothing to confirm with: the dialog offers to sign in again
    request.value!.resolve(false)

    expect(await done).toBeUndefined()
  })

  it('sends the user to sign in when the session is gone', async () => {
    fakeAllauth({ 'GET /account/authenticators': anonymous })
    const onUnauthenticated = vi.fn()
    apiHooks.onUnauthenticated = onUnauthenticated
    const auth = useAuthStore()

    await expect(auth.authenticators()).rejects.toBeInstanceOf(AuthError)
    expect(onUnauthenticated).toHaveBeenCalledOnce()
    apiHooks.onUnauthenticated = undefined
  })

  it('turns a 401 while signed in into a reauthentication request, not a sign-out', async () => {
    fakeAllauth({
      'GET /account/authenticators/recovery-codes': {
        status: 401,
        body: {
          status: 401,
          data: { flows: [{ id: 'mfa_reauthenticate' }] },
          meta: { is_authenticated: true },
        },
      },
    })
    await expect(useAuthStore().recoveryCodes()).rejects.toBeInstanceOf(ReauthenticationRequired)
  })
})

describe('a GitHub sign-in that came back refused', () => {
  it('says why, with the GitHub login, in either language', () => {
    const query = { error: 'github_refused', reason: 'not_listed', github_login: 'bob-gh' }
    expect(githubErrorMessage(t, query)?.body).toContain('The GitHub account bob-gh is not on this server')
    expect(githubErrorMessage(t, { ...query, reason: 'no_allow_list' })?.body).toContain('no allow-list')
    expect(githubErrorMessage(t, { ...query, reason: 'orgs_unavailable' })?.body).toContain(
      'could not be read',
    )
    i18n.global.locale.value = 'zh-CN'
    expect(githubErrorMessage(t, query)?.body).toContain('GitHub 账户 bob-gh 不在本服务器的允许名单中')
  })

  it('says nothing without an error, and names another failure', () => {
    expect(githubErrorMessage(t, {})).toBeNull()
    expect(githubErrorMessage(t, { error: 'unknown' })?.body).toBe(
      'Signing in with GitHub failed (unknown). Try again.',
    )
  })
})

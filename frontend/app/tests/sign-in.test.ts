import { flushPromises, mount } from '@vue/test-utils'
import { createPinia, setActivePinia } from 'pinia'
import { beforeEach, describe, expect, it, vi } from 'vitest'
import { h } from 'vue'
import { createMemoryHistory, createRouter, RouterView, type Router } from 'vue-router'
import { i18n } from '@/i18n'
import SignInPage from '@/pages/SignInPage.vue'
import { installAuthGuard } from '@/router/guard'
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
  type Reply,
} from './allauth-fake'

const page = (name: string) => ({ name, render: () => h('p', { 'data-page': name }, name) })

function makeRouter(): Router {
  const router = createRouter({
    history: createMemoryHistory(),
    routes: [
      { path: '/', name: 'dashboard', component: page('dashboard') },
      { path: '/strategies', name: 'strategies', component: page('strategies') },
      { path: '/security', name: 'security', component: page('security') },
      { path: '/sign-in', name: 'sign-in', component: SignInPage },
    ],
  })
  installAuthGuard(router, useAuthStore())
  return router
}

/** The app as a visitor meets it: they ask for `path`, and the guard decides where they land. */
async function visit(path: string) {
  const router = makeRouter()
  await router.push(path)
  const app = mount(
    { render: () => h(RouterView) },
    {
      global: { plugins: [router, i18n] },
      attachTo: document.body,
    },
  )
  await flushPromises()
  return { app, router }
}

async function fill(app: ReturnType<typeof mount>, values: Record<string, string>): Promise<void> {
  for (const [selector, value] of Object.entries(values)) await app.find(selector).setValue(value)
}

async function submit(app: ReturnType<typeof mount>, form: string): Promise<void> {
  await app.find(`[data-test="${form}"]`).trigger('submit')
  await flushPromises()
}

beforeEach(() => {
  setActivePinia(createPinia())
  i18n.global.locale.value = 'en'
  document.body.innerHTML = ''
})

describe('signing in', () => {
  it('takes the password, then the code, and returns to the page the user asked for', async () => {
    const { calls } = fakeAllauth({
      'GET /auth/session': anonymous,
      'GET /config': config(),
      'POST /auth/login': codeStep,
      'POST /auth/2fa/authenticate': [failure(400, 'incorrect_code', 'Incorrect code.', 'code'), signedIn()],
    })
    const { app, router } = await visit('/strategies?page=2')
    expect(router.currentRoute.value.name).toBe('sign-in')
    expect(router.currentRoute.value.query.next).toBe('/strategies?page=2')

    await submit(app, 'password-form')
    // Element Plus shows a field's message a moment later (it debounces the state).
    await vi.waitFor(() => expect(app.text()).toContain('Enter your username.'))
    expect(calls.filter((c) => c.path === '/auth/login')).toEqual([])

    await fill(app, { '#sign-in-username': 'alice', '#sign-in-password': 'alice-password' })
    await submit(app, 'password-form')
    expect(app.find('h1').text()).toBe('Two-factor sign-in')

    await fill(app, { '#sign-in-code': '000000' })
    await submit(app, 'code-form')
    expect(app.find('[data-test="sign-in-error"]').text()).toContain('That code is not correct.')

    await fill(app, { '#sign-in-code': '123456' })
    await submit(app, 'code-form')
    expect(router.currentRoute.value.fullPath).toBe('/strategies?page=2')
    expect(calls.map((c) => `${c.method} ${c.path}`)).toEqual([
      'GET /auth/session',
      'GET /config',
      'POST /auth/login',
      'POST /auth/2fa/authenticate',
      'POST /auth/2fa/authenticate',
    ])
  })

  it('shows the lockout with how long it lasts', async () => {
    fakeAllauth({ 'GET /auth/session': anonymous, 'GET /config': config(), 'POST /auth/login': lockedOut })
    const { app } = await visit('/sign-in')

    await fill(app, { '#sign-in-username': 'alice', '#sign-in-password': 'alice-password' })
    await submit(app, 'password-form')

    expect(app.find('[data-test="sign-in-error"]').text()).toContain(
      'signing in is refused for 15 minutes, even with the right password or code',
    )
    expect(app.find('[data-test="password-form"]').exists()).toBe(true)
  })

  it('never sends the user to another site afterwards', async () => {
    fakeAllauth({ 'GET /auth/session': anonymous, 'GET /config': config(), 'POST /auth/login': signedIn() })
    const { app, router } = await visit('/sign-in?next=//evil.example/x')
    await fill(app, { '#sign-in-username': 'alice', '#sign-in-password': 'alice-password' })
    await submit(app, 'password-form')
    expect(router.currentRoute.value.fullPath).toBe('/')
  })

  it('offers GitHub only with an allow-list, and says when it is closed', async () => {
    fakeAllauth({ 'GET /auth/session': anonymous, 'GET /config': config({}, [github]) })
    const closed = (await visit('/sign-in')).app
    expect(closed.find('[data-test="github-sign-in"]').exists()).toBe(false)
    expect(closed.find('[data-test="github-closed"]').text()).toContain('no allow-list is configured')

    setActivePinia(createPinia())
    fakeAllauth({
      'GET /auth/session': anonymous,
      'GET /config': config({ github_allow_list_configured: true }, [github]),
    })
    const open = (await visit('/sign-in')).app
    expect(open.find('[data-test="github-sign-in"]').text()).toBe('Sign in with GitHub')
    expect(open.find('[data-test="github-closed"]').exists()).toBe(false)
  })

  it('says why GitHub refused someone not on the allow-list', async () => {
    fakeAllauth({
      'GET /auth/session': anonymous,
      'GET /config': config({ github_allow_list_configured: true }, [github]),
    })
    const { app } = await visit('/sign-in?next=/x&error=github_refused&reason=not_listed&github_login=bob-gh')
    expect(app.find('[data-test="github-refused"]').text()).toContain(
      "The GitHub account bob-gh is not on this server's allow-list",
    )
  })
})

describe('the guard', () => {
  const cases: [string, Reply, string][] = [
    ['a visitor goes to sign in, remembering the page', anonymous, '/sign-in?next=/strategies'],
    ['a signed-in user goes on', signedIn(), '/strategies'],
    [
      'a user who must set up two-factor sign-in sees only the Security page',
      signedIn({ ...alice, mfa_setup_required: true }),
      '/security',
    ],
  ]
  it.each(cases)('%s', async (_name, session, landing) => {
    fakeAllauth({ 'GET /auth/session': session, 'GET /config': config() })
    const router = makeRouter()
    await router.push('/strategies')
    expect(router.currentRoute.value.fullPath).toBe(landing)
  })

  it('sends a signed-in user away from the sign-in page to where they were going', async () => {
    fakeAllauth({ 'GET /auth/session': signedIn() })
    const router = makeRouter()
    await router.push('/sign-in?next=/strategies')
    expect(router.currentRoute.value.fullPath).toBe('/strategies')
  })
})

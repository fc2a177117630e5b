import { createRouter, createWebHistory, type RouteRecordRaw } from 'vue-router'

declare module 'vue-router' {
  interface RouteMeta {
    /** i18n key of the page's title (document title and header). */
    title: string
    /** Shown without the signed-in shell (sign-in). */
    bare?: boolean
  }
}

// Every page is its own chunk: the first page loads only what it shows (the build budget counts it).
export const routes: RouteRecordRaw[] = [
  {
    path: '/',
    name: 'dashboard',
    component: () => import('@/pages/DashboardPage.vue'),
    meta: { title: 'nav.dashboard' },
  },
  {
    path: '/accounts',
    name: 'accounts',
    component: () => import('@/pages/AccountsPage.vue'),
    meta: { title: 'nav.accounts' },
  },
  {
    path: '/strategies',
    name: 'strategies',
    component: () => import('@/pages/StrategiesPage.vue'),
    meta: { title: 'nav.strategies' },
  },
  {
    path: '/strategies/new',
    name: 'strategy-new',
    component: () => import('@/pages/StrategyFormPage.vue'),
    meta: { title: 'strategies.createTitle' },
  },
  {
    path: '/strategies/:id(\\d+)/edit',
    name: 'strategy-edit',
    component: () => import('@/pages/StrategyFormPage.vue'),
    props: (route) => ({ id: Number(route.params.id) }),
    meta: { title: 'strategies.editPageTitle' },
  },
  {
    path: '/strategies/:id(\\d+)',
    name: 'strategy',
    component: () => import('@/pages/StrategyDetailPage.vue'),
    props: (route) => ({ id: Number(route.params.id) }),
    meta: { title: 'nav.strategyDetail' },
  },
  {
    path: '/trades',
    name: 'trades',
    component: () => import('@/pages/TradesPage.vue'),
    meta: { title: 'nav.trades' },
  },
  {
    path: '/backtests',
    name: 'backtests',
    component: () => import('@/pages/BacktestsPage.vue'),
    meta: { title: 'nav.backtests' },
  },
  {
    path: '/backtests/:id(\\d+)',
    name: 'backtest',
    component: () => import('@/pages/BacktestRunPage.vue'),
    props: (route) => ({ id: Number(route.params.id) }),
    meta: { title: 'nav.backtest' },
  },
  {
    path: '/sweeps',
    name: 'sweeps',
    component: () => import('@/pages/SweepsPage.vue'),
    meta: { title: 'nav.sweeps' },
  },
  {
    path: '/sweeps/:id(\\d+)',
    name: 'sweep',
    component: () => import('@/pages/SweepRunPage.vue'),
    props: (route) => ({ id: Number(route.params.id) }),
    meta: { title: 'nav.sweep' },
  },
  {
    path: '/workers',
    name: 'workers',
    component: () => import('@/pages/WorkersPage.vue'),
    meta: { title: 'nav.workers' },
  },
  {
    path: '/notifications',
    name: 'notifications',
    component: () => import('@/pages/NotificationsPage.vue'),
    meta: { title: 'nav.notifications' },
  },
  {
    path: '/security',
    name: 'security',
    component: () => import('@/pages/SecurityPage.vue'),
    meta: { title: 'nav.security' },
  },
  {
    path: '/sign-in',
    name: 'sign-in',
    component: () => import('@/pages/SignInPage.vue'),
    meta: { title: 'nav.signIn', bare: true },
  },
  {
    path: '/:path(.*)*',
    name: 'not-found',
    component: () => import('@/pages/NotFoundPage.vue'),
    meta: { title: 'nav.notFound' },
  },
]

export const router = createRouter({
  history: createWebHistory('/'),
  routes,
  scrollBehavior: (_to, _from, saved) => saved ?? { top: 0 },
})

/** Where sign-in sends the user back to: the page they were on (never an outside address). */
export function safeNext(next: unknown): string {
  return typeof next === 'string' && next.startsWith('/') && !next.startsWith('//') ? next : '/'
}

/** To sign-in, remembering where we were; a no-op when already there. */
export function goToSignIn(): void {
  const current = router.currentRoute.value
  if (current.name === 'sign-in') return
  void router.push({ name: 'sign-in', query: { next: current.fullPath } })
}

import { defineStore } from 'pinia'
import { computed, ref, watch } from 'vue'
import { i18n, LOCALE_KEY, type Locale } from '@/i18n'

export const THEME_KEY = 'aresbot.theme'
export type Theme = 'light' | 'dark'

function remember(key: string, value: string): void {
  try {
    localStorage.setItem(key, value)
  } catch {
    // Private windows may refuse storage: the choice then lasts for this visit only.
  }
}

function initialTheme(): Theme {
  // index.html already applied the remembered (or the system's) theme before the first paint.
  return globalThis.document?.documentElement.classList.contains('dark') ? 'dark' : 'light'
}

/** What the whole shell shares: theme, language and the "server unavailable" banner. */
export const useUiStore = defineStore('ui', () => {
  const theme = ref<Theme>(initialTheme())
  const locale = computed<Locale>(() => i18n.global.locale.value)
  /** Set while the API answers 503 or nothing at all; the server's own words when it gave some. */
  const unavailable = ref<string | null>(null)

  watch(
    theme,
    (value) => {
      document.documentElement.classList.toggle('dark', value === 'dark')
    },
    { immediate: true },
  )

  function setTheme(value: Theme): void {
    theme.value = value
    remember(THEME_KEY, value)
  }

  function setLocale(value: Locale): void {
    i18n.global.locale.value = value
    document.documentElement.lang = value
    remember(LOCALE_KEY, value)
  }

  return {
    theme,
    locale,
    unavailable,
    setTheme,
    setLocale,
    toggleTheme: () => setTheme(theme.value === 'dark' ? 'light' : 'dark'),
    markUnavailable: (message: string) => (unavailable.value = message),
    markAvailable: () => (unavailable.value = null),
  }
})

import { flushPromises, mount } from '@vue/test-utils'
import { createPinia } from 'pinia'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { nextTick } from 'vue'
import { createMemoryHistory, createRouter } from 'vue-router'
import type { EventFeed, StrategyEvent } from '@/api/events'
import EventsBell from '@/components/EventsBell.vue'
import { channelInput, emptyChannelForm, validateChannel, type ChannelForm } from '@/forms/channel'
import { i18n } from '@/i18n'
import { routes } from '@/router'

function event(
  id: number,
  kind = 'error',
  data: Record<string, unknown> = { error_class: 'NetworkError', message: 'down' },
): StrategyEvent {
  return {
    id,
    strategy: 4,
    kind,
    severity: 'error',
    at: '2026-01-02T03:04:05Z',
    first_at: '2026-01-02T03:04:05Z',
    count: 1,
    data,
    summary: 'x',
  }
}
function feed(unread: number, ids: number[]): EventFeed {
  return { count: ids.length, next: null, previous: null, results: ids.map((id) => event(id)), unread }
}

describe('the bell', () => {
  let replies: unknown[]
  const calls = () => (fetch as unknown as { mock: { calls: [string, RequestInit][] } }).mock.calls

  beforeEach(() => {
    vi.useFakeTimers()
    replies = []
    vi.stubGlobal(
      'fetch',
      vi.fn(async () => new Response(JSON.stringify(replies.shift() ?? { results: [] }), { status: 200 })),
    )
  })
  afterEach(() => {
    vi.useRealTimers()
    vi.unstubAllGlobals()
    document.body.innerHTML = ''
  })

  async function mountBell() {
    const router = createRouter({ history: createMemoryHistory(), routes })
    const wrapper = mount(EventsBell, {
      global: { plugins: [createPinia(), i18n, router] },
      attachTo: document.body,
    })
    await flushPromises()
    return wrapper
  }

  it('shows the unread count from one request per poll, and marks all read up to the newest shown', async () => {
    replies = [feed(3, [12, 11, 10])]
    const wrapper = await mountBell()
    expect(calls()).toHaveLength(1)
    expect(calls()[0]![0]).toBe('/api/events?page_size=10')
    const badge = () => wrapper.find('[data-test=events-unread] sup')
    expect(badge().text()).toBe('3')
    expect(badge().isVisible()).toBe(true)
    expect(wrapper.find('[data-test=events-bell]').attributes('aria-label')).toBe('Notifications, 3 unread')

    replies = [feed(120, [13, 12, 11])]
    await vi.advanceTimersByTimeAsync(30000)
    await flushPromises()
    expect(calls()).toHaveLength(2)
    expect(badge().text()).toBe('99+')

    // Open the list: the events in the page's words, each linking to its strategy.
    replies = [{ results: [] }]
    await wrapper.find('[data-test=events-bell]').trigger('click')
    await flushPromises()
    await nextTick()
    const list = document.body.querySelector('[data-test=events-feed]')
    expect(list?.textContent).toContain('NetworkError: down')
    expect(list?.querySelector('a')?.getAttribute('href')).toBe('/strategies/4')

    replies = [{ last_read_id: 13, unread: 0 }]
    ;(document.body.querySelector('[data-test=events-mark-read]') as HTMLButtonElement).click()
    await flushPromises()
    const post = calls().find(([url]) => url === '/api/events/read')!
    expect(post[1].method).toBe('POST')
    expect(JSON.parse(String(post[1].body))).toEqual({ up_to: 13 })
    await nextTick()
    expect(wrapper.find('[data-test=events-bell]').attributes('aria-label')).toBe('Notifications')
    expect(badge().exists()).toBe(false)
  })

  it('hides the badge when nothing is unread', async () => {
    replies = [feed(0, [])]
    const wrapper = await mountBell()
    expect(wrapper.find('[data-test=events-unread] sup').exists()).toBe(false)
  })
})

describe('the channel form', () => {
  const valid = (): ChannelForm => ({ ...emptyChannelForm(), name: 'Phone', url: 'tgram://123:abc/456' })

  it('needs a name, an apprise URL for a new channel, a kind and an hour from 0 to 23', () => {
    expect(validateChannel(valid(), false)).toEqual({})
    const errors = validateChannel({ ...emptyChannelForm(), kinds: [], summary_hour: 24 }, false)
    expect(Object.fromEntries(Object.entries(errors).map(([k, v]) => [k, v!.key]))).toEqual({
      name: 'notifications.errors.nameRequired',
      url: 'notifications.errors.urlRequired',
      kinds: 'notifications.errors.kindsRequired',
      summary_hour: 'notifications.errors.hourRange',
    })
    expect(validateChannel({ ...valid(), url: 'telegram bot 123' }, false).url?.key).toBe(
      'notifications.errors.urlScheme',
    )
    expect(validateChannel({ ...valid(), url: `json://${'a'.repeat(2000)}` }, false).url?.key).toBe(
      'notifications.errors.urlLong',
    )
    expect(validateChannel({ ...valid(), summary_hour: 1.5 }, false).summary_hour?.key).toBe(
      'notifications.errors.hourRange',
    )
  })

  it('keeps the stored URL in an edit when left empty, and sends it only when typed', () => {
    expect(validateChannel({ ...valid(), url: '' }, true)).toEqual({})
    expect(channelInput({ ...valid(), url: '  ' })).not.toHaveProperty('url')
    expect(channelInput({ ...valid(), name: ' Phone ', url: ' ntfy://topic ' })).toMatchObject({
      name: 'Phone',
      url: 'ntfy://topic',
    })
  })

  it('starts with the server defaults: the trades that close, pauses, errors and the summary', () => {
    expect(emptyChannelForm('zh-hans')).toMatchObject({
      language: 'zh-hans',
      summary_hour: 20,
      enabled: true,
    })
    expect(emptyChannelForm().kinds).toContain('daily_summary')
    expect(emptyChannelForm().kinds).not.toContain('buy_filled')
  })
})

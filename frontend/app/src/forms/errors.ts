/**
 * A form's share of an API error. DRF reports every failing field at once ({"grid_levels": […], "symbol": […]}):
 * each message goes beside the field the form shows for it; what no field of the form can show (`detail`,
 * `non_field_errors`, a field the form does not have, a 409 or a 503) goes above the form, so nothing is lost.
 */
import { computed, reactive } from 'vue'
import { ApiError, type FieldErrors } from '@/api'

export interface SplitErrors {
  /** Messages per form field. A nested one (`paper_balances.USDT`) lands on its parent, naming its key. */
  fields: FieldErrors
  /** Messages for the whole form. */
  general: string[]
}

const GENERAL_KEYS = new Set(['detail', 'non_field_errors'])

export function splitErrors(error: unknown, formFields: readonly string[]): SplitErrors {
  const out: SplitErrors = { fields: {}, general: [] }
  if (!(error instanceof ApiError)) {
    out.general.push(error instanceof Error ? error.message : String(error))
    return out
  }
  const known = new Set(formFields)
  const entries = Object.entries(error.fields)
  if (error.status !== 400 || entries.length === 0) {
    out.general.push(error.detail)
    return out
  }
  for (const [key, messages] of entries) {
    const [parent = key, ...rest] = key.split('.')
    if (known.has(key)) (out.fields[key] ??= []).push(...messages)
    else if (known.has(parent)) {
      const child = rest.join('.')
      ;(out.fields[parent] ??= []).push(...messages.map((m) => `${child}: ${m}`))
    } else if (GENERAL_KEYS.has(key)) out.general.push(...messages)
    else out.general.push(...messages.map((m) => `${key}: ${m}`))
  }
  return out
}

/** Reactive form errors: `show(error)` after a failed save, `of(field)` for each form item's `:error`. */
export function useFormErrors(formFields: readonly string[]) {
  const state = reactive<SplitErrors>({ fields: {}, general: [] })

  function set(split: SplitErrors): void {
    state.fields = split.fields
    state.general = split.general
  }

  return {
    state,
    show: (error: unknown) => set(splitErrors(error, formFields)),
    /** Only the field messages (the preview's live check): the general ones stay as they are. */
    showFields: (fields: FieldErrors) => {
      state.fields = splitErrors(new ApiError(400, '', fields, fields), formFields).fields
    },
    reset: () => set({ fields: {}, general: [] }),
    /** One field was edited: its message no longer describes what is there. */
    clear: (field: string) => {
      if (field in state.fields) {
        const rest = { ...state.fields }
        delete rest[field]
        state.fields = rest
      }
    },
    /** The text Element Plus shows under the field ('' for none). */
    of: (field: string) => (state.fields[field] ?? []).join(' '),
    any: computed(() => state.general.length > 0 || Object.keys(state.fields).length > 0),
  }
}

export type FormErrors = ReturnType<typeof useFormErrors>

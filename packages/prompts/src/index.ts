export type {
  ChatRenderOptions,
  ChatTemplate,
  ChatTemplateMessage,
  ChatTemplateOptions,
  NamedChatTemplate,
  SpecialTokenValue,
  TokenizerConfig,
} from './chat.js';
export { createChatTemplate, loadChatTemplate, rawChatTemplate } from './chat.js';
export type { ExtractOptions, Extraction, ExtractionStatus } from './extract.js';
export {
  containsPredictionTag,
  extractPrediction,
  PREDICTION_END,
  PREDICTION_START,
  wrapPrediction,
} from './extract.js';
export type { LoadPresetOptions, PresetName, PromptPreset } from './presets.js';
export {
  definePreset,
  getPreset,
  loadPreset,
  PRESET_NAMES,
  paperPreset,
  presets,
  tinyPreset,
} from './presets.js';
export type { JudgePromptInput, PromptTask, RenderPromptOptions, TaskPromptInput } from './task.js';
export { renderJudgePrompt, renderTaskPrompt } from './task.js';
export type { CompileTemplateOptions, PromptTemplate, TemplateKind } from './template.js';
export {
  compileTemplate,
  loadTemplate,
  PromptTemplateError,
  renderTemplate,
  TEMPLATE_KINDS,
  TEMPLATE_PLACEHOLDERS,
} from './template.js';

import { useId } from 'preact/hooks';
import { formatBytes } from '../format.js';

/** Storage used against the tier's allowance: a <meter> and the same in words. */
export function UsageMeter({ used, included, overage }: { used: number; included: number; overage: boolean }) {
  const id = useId();
  const percent = included > 0 ? Math.round((used / included) * 100) : 0;
  const over = used > included;
  return (
    <div class="usage">
      <p id={id} class="usage-label">
        <strong>{formatBytes(used)}</strong> of {formatBytes(included)} included storage used ({percent}%)
      </p>
      <meter aria-labelledby={id} min={0} max={included || 1} low={included * 0.75} high={included * 0.9} optimum={0} value={Math.min(used, included || 1)} />
      {over && (
        <p class={overage ? 'muted small' : 'field-error'}>
          {overage
            ? `${formatBytes(used - included)} over the allowance, billed as overage.`
            : `${formatBytes(used - included)} over the allowance: pushes that add storage are refused until you delete images or change tier.`}
        </p>
      )}
    </div>
  );
}

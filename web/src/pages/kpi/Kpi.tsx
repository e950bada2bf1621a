// The lazily loaded KPI chunk: dashboards, scorecards (ranking and one evaluation) and
// the pieces they share (period picker, value formatting, the measurements drill-down).
import { Dashboards } from './Dashboards';
import { Evaluation, Scorecards } from './Scorecards';

export function Kpi(props: { view: 'dashboards' | 'scorecards' | 'evaluation'; id?: string }) {
  if (props.view === 'dashboards') return <Dashboards />;
  if (props.view === 'evaluation' && props.id) return <Evaluation id={props.id} />;
  return <Scorecards />;
}
